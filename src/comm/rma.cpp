#include "comm/rma.h"

#include "dtrain/util/error.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {
// MPI counts are ints; a shard of more floats than this would need derived datatypes.
constexpr int kMaxCount = 1 << 30;

void check_count(std::size_t n, const char* what) {
  if (n > static_cast<std::size_t>(kMaxCount))
    throw Error(std::string(what) + ": transfer of " + std::to_string(n) + " floats too large");
}
}  // namespace

std::string RmaAgent::describe(const char* what, int target) const {
  return std::string(what) + " (target rank " + std::to_string(target) + ", " +
         window_.roles().role_name(target) + ")";
}

void RmaAgent::get_accumulate(const void* operand, void* result, int n, MPI_Datatype type,
                              int target, MPI_Aint disp, MPI_Op op, const char* what) {
  if (target == window_.roles().rank) {
    // On its own window a server uses the blocking form: it completes locally, and Open MPI's
    // osc/pt2pt never completes a request-based atomic that targets the caller itself.
    Watchdog::Scope guard(watchdog_, describe(what, target));
    mpi_call(describe(what, target), MPI_Get_accumulate, operand, operand ? n : 0, type, result, n,
             type, target, disp, n, type, op, window_.win());
    mpi_call(describe(what, target), MPI_Win_flush, target, window_.win());
    return;
  }
  MPI_Request req = MPI_REQUEST_NULL;
  mpi_call(describe(what, target), MPI_Rget_accumulate, operand, operand ? n : 0, type, result, n,
           type, target, disp, n, type, op, window_.win(), &req);
  stall_.wait(req, describe(what, target),
              [&] { return "rank " + std::to_string(target) + " does not respond"; });
}

int64_t RmaAgent::fetch_op(int target, MPI_Aint disp, MPI_Op op, int64_t operand,
                           const char* what) {
  int64_t result = 0;
  get_accumulate(op == MPI_NO_OP ? nullptr : &operand, &result, 1, MPI_INT64_T, target, disp, op,
                 what);
  return result;
}

std::vector<int64_t> RmaAgent::read_words(int target, MPI_Aint disp, int n, const char* what) {
  std::vector<int64_t> out(static_cast<std::size_t>(n));
  if (n > 0) get_accumulate(nullptr, out.data(), n, MPI_INT64_T, target, disp, MPI_NO_OP, what);
  return out;
}

std::vector<double> RmaAgent::read_doubles(int target, MPI_Aint disp, int n, const char* what) {
  std::vector<double> out(static_cast<std::size_t>(n));
  if (n > 0) get_accumulate(nullptr, out.data(), n, MPI_DOUBLE, target, disp, MPI_NO_OP, what);
  return out;
}

void RmaAgent::replace_doubles(int target, MPI_Aint disp, const std::vector<double>& values,
                               const char* what) {
  std::vector<double> old(values.size());
  get_accumulate(values.data(), old.data(), static_cast<int>(values.size()), MPI_DOUBLE, target,
                 disp, MPI_REPLACE, what);
}

void RmaAgent::get(int target, MPI_Aint disp, float* out, std::size_t n, const char* what) {
  check_count(n, what);
  MPI_Request req = MPI_REQUEST_NULL;
  mpi_call(describe(what, target), MPI_Rget, out, static_cast<int>(n), MPI_FLOAT, target, disp,
           static_cast<int>(n), MPI_FLOAT, window_.win(), &req);
  stall_.wait(req, describe(what, target),
              [&] { return "rank " + std::to_string(target) + " does not respond"; });
}

void RmaAgent::accumulate(int target, MPI_Aint disp, const float* in, std::size_t n,
                          const char* what) {
  check_count(n, what);
  Watchdog::Scope guard(watchdog_, describe(what, target));
  mpi_call(describe(what, target), MPI_Accumulate, in, static_cast<int>(n), MPI_FLOAT, target, disp,
           static_cast<int>(n), MPI_FLOAT, MPI_SUM, window_.win());
  mpi_call(describe(what, target), MPI_Win_flush, target, window_.win());
}

}  // namespace dtrain::comm
