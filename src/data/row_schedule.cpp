#include "data/row_schedule.h"

#include <algorithm>
#include <numeric>

#include "dtrain/util/error.h"

namespace dtrain::data {

void RowSchedule::start(std::vector<RowSplit> history) {
  if (history.empty() || history.front().from_step != 0 || history.front().rows.empty())
    throw Error("RowSchedule: a history starts with the split of step 0");
  {
    std::lock_guard lock(mu_);
    changes_.assign(1, std::move(history.front()));
  }
  for (std::size_t i = 1; i < history.size(); ++i)
    set_from(history[i].from_step, std::move(history[i].rows));
}

bool RowSchedule::empty() const {
  std::lock_guard lock(mu_);
  return changes_.empty();
}

int64_t RowSchedule::last_change() const {
  std::lock_guard lock(mu_);
  if (changes_.empty()) throw Error("RowSchedule: not started");
  return changes_.back().from_step;
}

void RowSchedule::set_from(int64_t step, std::vector<int64_t> rows) {
  std::lock_guard lock(mu_);
  if (changes_.empty()) throw Error("RowSchedule: not started");
  const RowSplit& last = changes_.back();
  if (step < last.from_step || rows.size() != last.rows.size() ||
      std::accumulate(rows.begin(), rows.end(), int64_t{0}) !=
          std::accumulate(last.rows.begin(), last.rows.end(), int64_t{0})) {
    throw Error("RowSchedule: a split must keep the workers and the batch, at a later step");
  }
  if (step == last.from_step)
    changes_.back().rows = std::move(rows);
  else
    changes_.push_back({step, std::move(rows)});
}

std::vector<int64_t> RowSchedule::at(int64_t step) const {
  std::lock_guard lock(mu_);
  if (changes_.empty()) throw Error("RowSchedule: not started");
  auto it = std::upper_bound(changes_.begin(), changes_.end(), step,
                             [](int64_t s, const RowSplit& c) { return s < c.from_step; });
  return std::prev(it)->rows;  // changes_ starts at step 0
}

std::pair<int64_t, int64_t> RowSchedule::offset_and_rows(int64_t step, int worker,
                                                         int64_t batch_rows) const {
  const std::vector<int64_t> split = at(step);
  const int64_t full = std::accumulate(split.begin(), split.end(), int64_t{0});
  std::vector<int64_t> rows(split.size());
  int64_t given = 0;
  for (std::size_t w = 0; w < split.size(); ++w) {
    rows[w] = batch_rows >= full ? split[w] : split[w] * batch_rows / full;
    given += rows[w];
  }
  for (std::size_t w = 0; given < batch_rows; w = (w + 1) % rows.size(), ++given) ++rows[w];
  const auto me = static_cast<std::size_t>(worker);
  const int64_t offset = std::accumulate(rows.begin(), rows.begin() + worker, int64_t{0});
  return {offset, rows[me]};
}

std::vector<RowSplit> RowSchedule::history() const {
  std::lock_guard lock(mu_);
  return changes_;
}

}  // namespace dtrain::data
