#include "comm/watchdog.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "dtrain/comm/mpi_env.h"

#include "util/clock.h"

namespace dtrain::comm {

Watchdog::Watchdog(const StallSettings& settings, int rank)
    : timeout_(settings.timeout_seconds), rank_(rank) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Watchdog::Scope::Scope(Watchdog* w, std::string what) : w_(w) {
  if (!w_) return;
  std::lock_guard lock(w_->mu_);
  w_->what_ = std::move(what);
  w_->deadline_ = now_seconds() + w_->timeout_;
}

Watchdog::Scope::~Scope() {
  if (!w_) return;
  std::lock_guard lock(w_->mu_);
  w_->deadline_ = 0;
}

void Watchdog::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (deadline_ > 0 && now_seconds() > deadline_) {
      std::fprintf(stderr,
                   "dtrain: [rank %d] stalled: %s did not return within %.0f s (--stall-timeout); "
                   "aborting the job\n",
                   rank_, what_.c_str(), timeout_);
      std::fflush(stderr);
      // The main thread is stuck inside MPI, so this call breaks MPI_THREAD_SERIALIZED; it is
      // the only way to end the ranks the launcher started. If it hangs too, SIGALRM ends this
      // process, and the launcher the rest.
      alarm(10);
      abort_job(3);
    }
  }
}

}  // namespace dtrain::comm
