#include "dtrain/comm/roles.h"

#include <algorithm>
#include <map>

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

std::string to_string(Compression c) {
  return c == Compression::kFp16 ? "fp16" : "none";
}

std::string to_string(ExchangeKind e) {
  switch (e) {
    case ExchangeKind::kAuto:
      return "auto";
    case ExchangeKind::kSharded:
      return "sharded";
    case ExchangeKind::kWhole:
      return "whole";
    case ExchangeKind::kRing:
      return "ring";
  }
  return "?";
}

int Roles::ps_index(int r) const {
  const auto it = std::find(ps_ranks.begin(), ps_ranks.end(), r);
  return it == ps_ranks.end() ? -1 : static_cast<int>(it - ps_ranks.begin());
}

int Roles::worker_index(int r) const {
  if (ps_index(r) >= 0) return -1;
  int below = 0;
  for (int p : ps_ranks) below += p < r ? 1 : 0;
  return r - below;
}

int Roles::worker_rank(int worker) const {
  for (int r = 0, w = 0; r < size; ++r) {
    if (ps_index(r) >= 0) continue;
    if (w++ == worker) return r;
  }
  return -1;
}

std::string Roles::role_name(int r) const {
  if (const int p = ps_index(r); p >= 0) return "ps " + std::to_string(p);
  const int w = worker_index(r);
  return "worker " + std::to_string(w) + (w == 0 ? " (chief)" : "");
}

namespace {

// Spread: the first rank of each node in turn, then the second of each, ...
std::vector<int> spread_servers(int num_ps, int size, const std::vector<int>& node_of_rank) {
  std::map<int, std::vector<int>> by_node;  // ordered by node id, ranks ascending
  for (int r = 0; r < size; ++r) by_node[node_of_rank[static_cast<std::size_t>(r)]].push_back(r);
  std::vector<int> out;
  for (std::size_t depth = 0; static_cast<int>(out.size()) < num_ps; ++depth) {
    for (const auto& [node, ranks] : by_node) {
      if (depth < ranks.size() && static_cast<int>(out.size()) < num_ps)
        out.push_back(ranks[depth]);
    }
  }
  return out;
}

}  // namespace

Roles Roles::decide(int rank, int size, std::optional<Mode> dist, int num_ps, PsPlacement placement,
                    const std::vector<int>& node_of_rank) {
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
  const bool spread =
      placement == PsPlacement::kSpread && node_of_rank.size() == static_cast<std::size_t>(size);
  if (spread) {
    r.ps_ranks = spread_servers(num_ps, size, node_of_rank);
  } else {
    for (int p = 0; p < num_ps; ++p) r.ps_ranks.push_back(p);
  }
  return r;
}

}  // namespace dtrain::comm
