#include "train/local_cost.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dtrain::train {

bool LocalCostMeter::taken() {
  // After a checkpoint the last third of the interval is quiet; before the first, the second
  // half (the first iterations warm up).
  const std::size_t n = since_.size();
  const std::size_t quiet = after_checkpoint_ ? n / 3 : n / 2;
  double quiet_sum = 0;
  for (std::size_t i = n - quiet; i < n; ++i) {
    quiet_sum += since_[i];
    quiet_.push_back(since_[i]);
    if (quiet_.size() > kBaselineSteps) quiet_.pop_front();
  }
  const bool measured = after_checkpoint_ && quiet >= kMinQuiet;
  if (measured) {
    const double sum = std::accumulate(since_.begin(), since_.end(), 0.0);
    excess_.push_back(sum - static_cast<double>(n) * quiet_sum / static_cast<double>(quiet));
    if (excess_.size() > kMeasuredIntervals) excess_.pop_front();
    ++measured_;
  }
  since_.clear();
  after_checkpoint_ = true;
  return measured;
}

void LocalCostMeter::iteration(double seconds, bool comparable) {
  if (comparable) since_.push_back(seconds);
}

std::optional<double> LocalCostMeter::seconds_per_checkpoint() const {
  if (excess_.empty()) return std::nullopt;
  // The median: on 2 shared cores one interval's excess ranged over 3-307 ms in a run whose
  // typical one was 30 ms, and the mean followed such outliers (the interval swung 20, 10, 24,
  // 11 steps). One interval's excess can be below zero (noise); the median, clipped, is not
  // biased upwards the way clipping each would be.
  std::vector<double> sorted(excess_.begin(), excess_.end());
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return std::max(0.0, median);
}

std::optional<double> LocalCostMeter::baseline() const {
  if (quiet_.size() < kMinBaseline) return std::nullopt;
  return std::accumulate(quiet_.begin(), quiet_.end(), 0.0) / static_cast<double>(quiet_.size());
}

int64_t AutoLocalInterval::next(int64_t before, double cost_seconds, double step_seconds,
                                int measured) {
  auto every = static_cast<int64_t>(std::ceil(cost_seconds / (kShare * step_seconds)));
  if (measured == 0) every = std::max(every, kFirst);
  if (measured > 0 && 2 * every <= 3 * before && 3 * every >= 2 * before) return before;
  if (every >= before) return std::min(every, 2 * before);
  if (measured < kMeasuredToShorten) return before;
  return std::max({every, kMin, before - before / 3});
}

}  // namespace dtrain::train
