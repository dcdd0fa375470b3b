#include "dtrain/util/signals.h"

#include <atomic>
#include <csignal>

namespace dtrain {

namespace {
std::atomic<int> g_requests{0};

extern "C" void on_signal(int sig) {
  g_requests.fetch_or(sig == SIGUSR1 ? kCheckpointRequest : (kCheckpointRequest | kStopRequest));
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGUSR1, SIGTERM, SIGINT}) sigaction(sig, &sa, nullptr);
}

int take_signal_requests() {
  return g_requests.exchange(0);
}

}  // namespace dtrain
