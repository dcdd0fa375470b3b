#include "util/signals.h"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

namespace dtrain {

namespace {
constexpr int kCheckpoint = 1, kStop = 2;
constexpr int kSignals[] = {SIGUSR1, SIGUSR2, SIGTERM, SIGINT};
std::atomic<int> g_requests{0};

void note(int sig) {
  g_requests.fetch_or(sig == SIGUSR1 ? kCheckpoint : (kCheckpoint | kStop));
}

extern "C" void on_signal(int sig) {
  note(sig);
}

sigset_t job_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignals) sigaddset(&set, sig);
  return set;
}

// The only thread the kernel can pick for these signals once the others block them.
void listen(sigset_t set) {
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) note(sig);
  }
}
}  // namespace

void start_signal_listener() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (int sig : kSignals) sigaction(sig, &sa, nullptr);
    const sigset_t set = job_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread(listen, set).detach();
  });
}

SignalRequests take_signal_requests() {
  const int r = g_requests.exchange(0);
  return {(r & kCheckpoint) != 0, (r & kStop) != 0};
}

}  // namespace dtrain
