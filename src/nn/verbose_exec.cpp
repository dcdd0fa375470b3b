#include "nn/verbose_exec.h"

#include <cstdio>
#include <cstdlib>

#include "util/clock.h"

namespace dtrain::nn {

bool verbose_exec_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("ONEDNN_VERBOSE");
    return v != nullptr && std::atoi(v) > 0;
  }();
  return on;
}

double verbose_now_ms() {
  return 1e3 * now_seconds();
}

void print_verbose_exec(const std::string& fields, double ms) {
  std::printf("onednn_verbose,exec,cpu,%s,%g\n", fields.c_str(), ms);
}

}  // namespace dtrain::nn
