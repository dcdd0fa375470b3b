// StragglerWatch: which worker computes slower than the others, from each worker's compute time
// per row over windows of steps.
//
// In sync mode every step waits for the slowest rank, and the step time alone cannot say who
// that is: every rank sees the same step time. So each worker measures its own compute
// (forward and backward, not the waits) and shares its totals every kWindow steps (sync: one
// tiny sum over the workers; async: through server 0's window, read by the chief); a worker
// slower than kSlower times the median over kWindowsToName windows in a row is named once. Per
// row, so that a worker given fewer rows is judged by its speed, not by its share.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dtrain::train {

struct Straggler {
  int worker = 0;
  double ratio = 0;       // its compute time per row over the median's
  double ms_per_row = 0;  // its own, and the median's, over the last window
  double median_ms_per_row = 0;
};

class StragglerWatch {
 public:
  static constexpr int64_t kWindow = 10;    // steps between two shares
  static constexpr double kSlower = 1.3;    // slower than this times the median: a straggler
  static constexpr int kWindowsToName = 2;  // windows in a row before it is named

  explicit StragglerWatch(int workers);

  // This worker's step: its compute seconds and the rows they covered.
  void add(double compute_seconds, int64_t rows);
  double seconds() const { return seconds_; }  // this worker's totals so far
  double rows() const { return static_cast<double>(rows_); }
  // Every worker's totals ([seconds of each..., rows of each...]): judges the window since the
  // last call (judge below).
  std::vector<Straggler> judge_totals(std::span<const double> totals);
  // Every worker's compute milliseconds per row over one window: returns the workers named
  // now, each at most once per run. Workers without a figure (0: no rows) are left out.
  std::vector<Straggler> judge(std::span<const double> ms_per_row);

  // Over the windows judged so far: each worker's mean compute time per row (ms).
  std::vector<double> mean_ms_per_row() const;
  // The last window's figures (empty before the first).
  const std::vector<double>& last() const { return last_; }

 private:
  double seconds_ = 0;
  int64_t rows_ = 0;
  std::vector<double> previous_;  // the totals of the last judge_totals
  std::vector<int> streak_;
  std::vector<bool> named_;
  std::vector<double> sum_, last_;
  std::vector<int64_t> windows_;
};

}  // namespace dtrain::train
