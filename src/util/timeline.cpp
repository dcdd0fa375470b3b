#include "util/timeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

namespace dtrain::timeline {

std::atomic<bool> g_enabled{false}, g_layers{false};

namespace {

std::mutex g_lanes_mu;
std::vector<std::shared_ptr<Lane>>& all_lanes() {
  static std::vector<std::shared_ptr<Lane>> lanes;
  return lanes;
}

// This thread's lane, registered on its first event.
Lane& my_lane() {
  thread_local std::shared_ptr<Lane> lane;
  if (!lane) {
    lane = std::make_shared<Lane>();
    std::lock_guard lock(g_lanes_mu);
    lane->id = static_cast<int>(all_lanes().size());
    lane->name = lane->id == 0 ? "main" : "thread " + std::to_string(lane->id);
    lane->events.reserve(1 << 14);
    all_lanes().push_back(lane);
  }
  return *lane;
}

}  // namespace

void enable(bool layers) {
  g_layers = layers;
  g_enabled = true;
  my_lane();  // the enabling (main) thread is lane 0
}

double now_us() {
  using namespace std::chrono;
  return duration<double, std::micro>(steady_clock::now().time_since_epoch()).count();
}

namespace {

// This thread's schedstat file, opened once ("cpu_ns run_queue_ns timeslices").
class SchedStat {
 public:
  SchedStat() : fd_(::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) {}
  ~SchedStat() {
    if (fd_ >= 0) ::close(fd_);
  }
  SchedStat(const SchedStat&) = delete;
  SchedStat& operator=(const SchedStat&) = delete;
  double run_queue_us() const {
    char buf[96];
    const ssize_t n = fd_ >= 0 ? ::pread(fd_, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long long cpu_ns = 0, wait_ns = 0;
    if (std::sscanf(buf, "%llu %llu", &cpu_ns, &wait_ns) != 2) return 0;
    return static_cast<double>(wait_ns) / 1e3;
  }

 private:
  int fd_;
};

}  // namespace

double run_queue_us() {
  thread_local const SchedStat stat;
  return stat.run_queue_us();
}

void name_this_thread(const std::string& name) {
  if (!enabled()) return;
  Lane& lane = my_lane();
  std::lock_guard lock(g_lanes_mu);
  lane.name = name;
}

void record(const Event& e) {
  my_lane().events.push_back(e);
}

void counter(const char* name, double at_us, double value) {
  if (!enabled()) return;
  my_lane().events.push_back({name, "counter", at_us, 0, -1, value, true});
}

std::vector<Lane> lanes() {
  std::lock_guard lock(g_lanes_mu);
  std::vector<Lane> out;
  for (const auto& l : all_lanes()) out.push_back(*l);
  return out;
}

}  // namespace dtrain::timeline
