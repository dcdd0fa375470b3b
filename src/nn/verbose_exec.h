// ONEDNN_VERBOSE's "exec" lines for dtrain's own loops (pooling, conv1's backward-weights), so
// per-primitive tables built from oneDNN's output (scripts/bench_compute.sh) count them too.
#pragma once

#include <string>

namespace dtrain::nn {

// Whether ONEDNN_VERBOSE is set to a level that prints exec lines (read once).
bool verbose_exec_enabled();

// Milliseconds on a clock for such a line's duration.
double verbose_now_ms();

// Prints "onednn_verbose,exec,cpu,<fields>,<ms>": fields as oneDNN writes them (primitive,
// implementation, propagation, layouts, attributes, algorithm, problem).
void print_verbose_exec(const std::string& fields, double ms);

// Runs run(); with ONEDNN_VERBOSE set, times it and prints its line with fields() (called
// only then, so the string is never built otherwise).
template <class Run, class Fields>
void run_verbose_exec(Run&& run, Fields&& fields) {
  if (!verbose_exec_enabled()) return run();
  const double t0 = verbose_now_ms();
  run();
  print_verbose_exec(fields(), verbose_now_ms() - t0);
}

}  // namespace dtrain::nn
