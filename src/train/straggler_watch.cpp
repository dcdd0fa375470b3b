#include "train/straggler_watch.h"

#include <algorithm>

namespace dtrain::train {

StragglerWatch::StragglerWatch(int workers)
    : streak_(static_cast<std::size_t>(workers), 0),
      named_(static_cast<std::size_t>(workers), false),
      sum_(static_cast<std::size_t>(workers), 0.0),
      windows_(static_cast<std::size_t>(workers), 0) {}

void StragglerWatch::add(double compute_seconds, int64_t rows) {
  seconds_ += compute_seconds;
  rows_ += rows;
}

std::vector<Straggler> StragglerWatch::judge_totals(std::span<const double> totals) {
  const std::size_t n = streak_.size();
  if (totals.size() != 2 * n) return {};
  previous_.resize(2 * n, 0.0);
  std::vector<double> ms(n, 0.0);
  for (std::size_t w = 0; w < n; ++w) {
    const double seconds = totals[w] - previous_[w], rows = totals[n + w] - previous_[n + w];
    if (rows > 0) ms[w] = 1e3 * seconds / rows;
  }
  previous_.assign(totals.begin(), totals.end());
  return judge(ms);
}

std::vector<Straggler> StragglerWatch::judge(std::span<const double> ms_per_row) {
  last_.assign(ms_per_row.begin(), ms_per_row.end());
  std::vector<double> measured;
  for (double v : ms_per_row)
    if (v > 0) measured.push_back(v);
  std::vector<Straggler> named;
  if (measured.size() < 2) return named;  // nobody to compare with
  // The lower median: with two workers, the faster one is the yardstick.
  std::nth_element(measured.begin(), measured.begin() + (measured.size() - 1) / 2, measured.end());
  const double median = measured[(measured.size() - 1) / 2];
  for (std::size_t w = 0; w < ms_per_row.size() && w < streak_.size(); ++w) {
    const double v = ms_per_row[w];
    if (v <= 0) continue;
    sum_[w] += v;
    ++windows_[w];
    streak_[w] = v > kSlower * median ? streak_[w] + 1 : 0;
    if (streak_[w] >= kWindowsToName && !named_[w]) {
      named_[w] = true;
      named.push_back({static_cast<int>(w), v / median, v, median});
    }
  }
  return named;
}

std::vector<double> StragglerWatch::mean_ms_per_row() const {
  std::vector<double> mean(sum_.size(), 0.0);
  for (std::size_t w = 0; w < sum_.size(); ++w)
    if (windows_[w] > 0) mean[w] = sum_[w] / static_cast<double>(windows_[w]);
  return mean;
}

}  // namespace dtrain::train
