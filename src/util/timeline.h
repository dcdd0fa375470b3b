// Timeline: what every thread of this rank did, and when, for --timeline (a Chrome trace-event
// file that chrome://tracing and Perfetto open; src/train/timeline_file.cpp merges the ranks).
//
// Recording is off unless --timeline is given; then each thread appends complete events
// ("ph":"X": name, category, start, duration, arguments) and counters to its own buffer, with no
// lock on the hot path. Off, a span costs one load of a global flag. Times are microseconds of
// the steady clock, shifted at write time by this rank's measured offset to rank 0.
//
//   { TimelineSpan s("forward", "compute"); ... }             a span over a scope
//   timeline::counter("images/s", now, value);              a counter sample
//   timeline::name_this_thread("allreduce");                 the lane's name
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace dtrain::timeline {

// One recorded event.
struct Event {
  const char* name;      // static strings only (no copies on the hot path)
  const char* category;  // compute, data, exchange, wait, server, io
  double start_us, duration_us;
  int64_t step = -1;  // the training step it belongs to, -1 if none
  double value = 0;   // bytes for exchange spans; the sample for counters
  bool counter = false;
  // Time within the span this thread was ready to run but waited for a CPU (the kernel's
  // run-queue delay): a reader can tell un-spanned work from a thread that was descheduled.
  double run_queue_us = 0;
};

struct Lane {
  std::string name;
  int id = 0;
  std::vector<Event> events;
};

extern std::atomic<bool> g_enabled, g_layers;
inline bool enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}
// Spans for every layer's forward and backward too (--timeline-layers).
inline bool layers() {
  return g_layers.load(std::memory_order_relaxed);
}
void enable(bool layers);

// Microseconds on the steady clock.
double now_us();
// Microseconds this thread has waited on a run queue so far (/proc/thread-self/schedstat);
// 0 where the kernel does not say.
double run_queue_us();
void name_this_thread(const std::string& name);
void record(const Event& e);
void counter(const char* name, double at_us, double value);
// Every lane recorded so far (for writing, after the threads are done).
std::vector<Lane> lanes();

}  // namespace dtrain::timeline

namespace dtrain {

class TimelineSpan {
 public:
  TimelineSpan(const char* name, const char* category, int64_t step = -1, double value = 0,
               bool when = true)
      : on_(when && timeline::enabled()) {
    if (on_)
      e_ = {name, category, timeline::now_us(), 0, step, value, false, timeline::run_queue_us()};
  }
  ~TimelineSpan() {
    if (!on_) return;
    e_.duration_us = timeline::now_us() - e_.start_us;
    e_.run_queue_us = timeline::run_queue_us() - e_.run_queue_us;
    timeline::record(e_);
  }
  TimelineSpan(const TimelineSpan&) = delete;
  TimelineSpan& operator=(const TimelineSpan&) = delete;

 private:
  bool on_;
  timeline::Event e_{};
};

}  // namespace dtrain
