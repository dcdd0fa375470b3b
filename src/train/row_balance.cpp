#include "train/row_balance.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dtrain::train {

int64_t split_quantum(int64_t batch, int workers) {
  // A 16th of an even share: the split settles within about a quantum of the speeds, and
  // 2 ranks at 80/20 of 100 rows lost 10% to an 8th (78/22). Few distinct sizes all the same
  // (each a network to build, about 15 ms; Replica keeps 8).
  return std::max<int64_t>(1, batch / (16 * static_cast<int64_t>(workers)));
}

std::vector<int64_t> balanced_rows(std::span<const int64_t> current,
                                   std::span<const double> ms_per_row, int64_t quantum) {
  const std::vector<int64_t> keep(current.begin(), current.end());
  const std::size_t n = current.size();
  const int64_t batch = std::accumulate(current.begin(), current.end(), int64_t{0});
  const int64_t units = batch / quantum;
  if (n < 2 || ms_per_row.size() != n || units < static_cast<int64_t>(n)) return keep;
  double speed_sum = 0;
  for (double ms : ms_per_row) {
    if (!(ms > 0)) return keep;
    speed_sum += 1.0 / ms;
  }
  // Where every worker is within a quantum of its rows by speed, the split stays: equal
  // speeds keep an even split the quantum does not divide, and noise does not move it.
  std::vector<double> want(n);
  bool close = true;
  for (std::size_t w = 0; w < n; ++w) {
    const double target = static_cast<double>(batch) * (1.0 / ms_per_row[w]) / speed_sum;
    close = close && std::abs(target - static_cast<double>(current[w])) < quantum;
    // Half way there, in units of the quantum (the last worker's rows include the remainder).
    const double rows = 0.5 * static_cast<double>(current[w]) + 0.5 * target;
    const double extra = w + 1 == n ? static_cast<double>(batch - units * quantum) : 0.0;
    want[w] = (rows - extra) / static_cast<double>(quantum);
  }
  if (close) return keep;
  // The nearest units, each worker at least one; then the sum made right where rounding is
  // furthest from what was wanted.
  std::vector<int64_t> got(n);
  int64_t given = 0;
  for (std::size_t w = 0; w < n; ++w) {
    got[w] = std::max<int64_t>(1, std::llround(want[w]));
    given += got[w];
  }
  auto short_by = [&](std::size_t w) { return want[w] - static_cast<double>(got[w]); };
  while (given != units) {
    std::size_t pick = n;
    for (std::size_t w = 0; w < n; ++w) {
      if (given > units && got[w] == 1) continue;
      if (pick == n ||
          (given < units ? short_by(w) > short_by(pick) : short_by(w) < short_by(pick)))
        pick = w;
    }
    got[pick] += given < units ? 1 : -1;
    given += given < units ? 1 : -1;
  }
  std::vector<int64_t> rows(n);
  for (std::size_t w = 0; w < n; ++w) rows[w] = got[w] * quantum;
  rows[n - 1] += batch - units * quantum;
  return rows;
}

std::string splits_mismatch(std::span<const data::RowSplit> splits, int workers, int64_t batch) {
  if (splits.empty() || splits.front().from_step != 0) return "the first split is not of step 0";
  int64_t previous = 0;
  for (const data::RowSplit& c : splits) {
    const std::string at = "the split from step " + std::to_string(c.from_step);
    if (c.from_step < previous) return at + " comes after a later one";
    previous = c.from_step;
    if (c.rows.size() != static_cast<std::size_t>(workers))
      return at + " is for " + std::to_string(c.rows.size()) + " workers; this run has " +
             std::to_string(workers);
    if (std::any_of(c.rows.begin(), c.rows.end(), [](int64_t r) { return r < 1; }))
      return at + " gives a worker no rows";
    const int64_t sum = std::accumulate(c.rows.begin(), c.rows.end(), int64_t{0});
    if (sum != batch)
      return at + " splits a batch of " + std::to_string(sum) + " rows; this run's is " +
             std::to_string(batch);
  }
  return "";
}

}  // namespace dtrain::train
