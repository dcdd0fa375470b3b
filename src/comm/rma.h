// One-sided operations on the parameter-server window, each waited for with a deadline.
// Atomic word operations use MPI_Rget_accumulate (its result arriving proves the operation was
// applied at the target, i.e. remote completion, and the request can be polled); bulk pulls use
// MPI_Rget; bulk pushes use MPI_Accumulate followed by MPI_Win_flush (guarded by the watchdog,
// since a flush cannot be polled).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "comm/ps/window.h"
#include "comm/stall.h"
#include "comm/watchdog.h"

namespace dtrain::comm {

class RmaAgent {
 public:
  RmaAgent(const PsWindow& window, StallPolicy stall, Watchdog* watchdog)
      : window_(window), stall_(stall), watchdog_(watchdog) {}

  // Atomic fetch-and-op on one int64 word; returns the old value.
  int64_t fetch_op(int target, MPI_Aint disp, MPI_Op op, int64_t operand, const char* what);
  int64_t read(int target, MPI_Aint disp, const char* what) {
    return fetch_op(target, disp, MPI_NO_OP, 0, what);
  }
  int64_t add(int target, MPI_Aint disp, int64_t delta, const char* what) {
    return fetch_op(target, disp, MPI_SUM, delta, what);
  }
  void replace(int target, MPI_Aint disp, int64_t value, const char* what) {
    fetch_op(target, disp, MPI_REPLACE, value, what);
  }
  // Atomic read of n int64 words / n doubles; atomic replace of n doubles.
  std::vector<int64_t> read_words(int target, MPI_Aint disp, int n, const char* what);
  std::vector<double> read_doubles(int target, MPI_Aint disp, int n, const char* what);
  void replace_doubles(int target, MPI_Aint disp, const std::vector<double>& values,
                       const char* what);
  // Copies n floats from the target.
  void get(int target, MPI_Aint disp, float* out, std::size_t n, const char* what);
  // Adds n floats into the target (MPI_SUM) and waits for remote completion.
  void accumulate(int target, MPI_Aint disp, const float* in, std::size_t n, const char* what);

  const StallPolicy& stall() const { return stall_; }

 private:
  // MPI_Get_accumulate of n elements, remote-complete on return.
  void get_accumulate(const void* operand, void* result, int n, MPI_Datatype type, int target,
                      MPI_Aint disp, MPI_Op op, const char* what);
  std::string describe(const char* what, int target) const;

  const PsWindow& window_;
  StallPolicy stall_;
  Watchdog* watchdog_;
};

}  // namespace dtrain::comm
