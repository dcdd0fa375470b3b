#include "util/signals.h"

#include <atomic>
#include <csignal>

namespace dtrain {

namespace {
constexpr int kCheckpoint = 1, kStop = 2;
std::atomic<int> g_requests{0};

extern "C" void on_signal(int sig) {
  g_requests.fetch_or(sig == SIGUSR1 ? kCheckpoint : (kCheckpoint | kStop));
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGUSR1, SIGUSR2, SIGTERM, SIGINT}) sigaction(sig, &sa, nullptr);
}

SignalRequests take_signal_requests() {
  const int r = g_requests.exchange(0);
  return {(r & kCheckpoint) != 0, (r & kStop) != 0};
}

}  // namespace dtrain
