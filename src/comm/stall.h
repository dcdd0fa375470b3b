// Waiting on other ranks with a deadline. Every wait in dtrain that depends on another rank
// polls instead of blocking, so that a wait that makes no progress for --stall-timeout seconds
// ends the job (MPI_Abort, non-zero exit) with a line saying what was awaited and which ranks
// are missing, instead of hanging until the batch system kills it.
#pragma once

#include <mpi.h>

#include <functional>
#include <span>
#include <string>

#include "dtrain/comm/stall_settings.h"

namespace dtrain::comm {

// Who to name when a wait stalls ("ranks 2, 5 have not reached step 40").
using MissingFn = std::function<std::string()>;

class StallPolicy {
 public:
  StallPolicy() = default;
  StallPolicy(const StallSettings& settings, int rank)
      : timeout_(settings.timeout_seconds), rank_(rank) {}
  double timeout() const { return timeout_; }

  // Polls MPI_Testall (under the MPI lock) until all requests complete.
  void wait(std::span<MPI_Request> requests, const std::string& what,
            const MissingFn& missing) const;
  void wait(MPI_Request& request, const std::string& what, const MissingFn& missing) const {
    wait(std::span<MPI_Request>(&request, 1), what, missing);
  }
  // Polls `done` (which may call MPI itself) until it returns true.
  void wait_until(const std::function<bool()>& done, const std::string& what,
                  const MissingFn& missing) const;
  // Prints the stall report and aborts the job.
  [[noreturn]] void abort(const std::string& what, const MissingFn& missing, double waited) const;

 private:
  double timeout_ = StallSettings{}.timeout_seconds;
  int rank_ = 0;
};

// Adds a few doubles over comm's ranks in place: a polled MPI_Iallreduce against the stall
// timeout, naming `what` if it stalls. A function, so that the trainer (public, without MPI)
// can be given the sum of the ranks it evaluates with.
std::function<void(std::span<double>)> polled_sum(MPI_Comm comm, const StallSettings& settings,
                                                  std::string what);

// Sleeps between polls that keep failing: spin first (completion usually needs this rank's own
// MPI calls to make progress), then back off to 100 microseconds, so that a rank waiting
// a long time gives its core to the ranks it is waiting for.
class Backoff {
 public:
  void pause();
  void reset() { polls_ = 0; }

 private:
  long polls_ = 0;
};

// "1, 3, 4" from rank numbers.
std::string rank_list(const std::vector<int>& ranks);

}  // namespace dtrain::comm
