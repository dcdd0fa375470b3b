#include "dtrain/comm/roles.h"

#include "dtrain/util/error.h"

namespace dtrain::comm {

std::string to_string(Mode m) {
  switch (m) {
    case Mode::kLocal:
      return "local";
    case Mode::kAsync:
      return "async";
    case Mode::kSync:
      return "sync";
  }
  return "?";
}

std::string Roles::role_name(int r) const {
  if (mode == Mode::kAsync && r < num_ps) return "ps " + std::to_string(r);
  const int w = r - (mode == Mode::kAsync ? num_ps : 0);
  return "worker " + std::to_string(w) + (w == 0 ? " (chief)" : "");
}

Roles Roles::decide(int rank, int size, std::optional<Mode> dist, int num_ps) {
  Roles r;
  r.rank = rank;
  r.size = size;
  const Mode mode = dist.value_or(size > 1 ? Mode::kAsync : Mode::kLocal);
  if (mode != Mode::kAsync) {
    r.mode = size > 1 ? Mode::kSync : Mode::kLocal;
    return r;
  }
  if (size < 2) {
    throw OptionError(
        "--dist async needs at least 2 ranks (1 parameter server + 1 worker); "
        "this job has 1. Use mpirun -np 2 or more, or --dist sync.");
  }
  if (num_ps < 1 || num_ps >= size) {
    throw OptionError("--num-ps " + std::to_string(num_ps) + " with " + std::to_string(size) +
                      " ranks leaves " + (num_ps >= size ? "no worker" : "no parameter server") +
                      ": use 1 <= --num-ps <= " + std::to_string(size - 1));
  }
  r.mode = Mode::kAsync;
  r.num_ps = num_ps;
  return r;
}

}  // namespace dtrain::comm
