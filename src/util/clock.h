// Monotonic wall-clock seconds, the one time base for progress, metrics and stall deadlines.
#pragma once

#include <chrono>

namespace dtrain {

inline double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace dtrain
