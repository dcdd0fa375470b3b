// Watchdog: ends the process when a blocking MPI call (a flush, a barrier, freeing a window)
// does not return within the stall timeout. Polling waits name the missing ranks themselves
// (StallPolicy); this covers the calls that cannot be polled. On expiry it prints what was
// awaited and aborts the job (MPI_Abort, status 3).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "dtrain/comm/stall_settings.h"

namespace dtrain::comm {

class Watchdog {
 public:
  Watchdog(const StallSettings& settings, int rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Arms the watchdog for the life of the scope.
  class Scope {
   public:
    Scope(Watchdog* w, std::string what);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Watchdog* w_;
  };

 private:
  void run();

  double timeout_;
  int rank_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string what_;
  double deadline_ = 0;  // 0: not armed
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dtrain::comm
