// RowSchedule: how many rows of each global batch each worker computes, step by step (sync,
// --shard-by global). The global batch stays the same rows in the same order; only where the
// cuts between the workers fall changes. Worker w reads the rows after those of workers < w.
//
// The trainer decides a new split at one step for a later one (past every batch the reader may
// already hold); the reader asks for the split of each step it reads. Both sides may run at
// once: the schedule is guarded by a mutex.
#pragma once

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "dtrain/data/shard_plan.h"

namespace dtrain::data {

class RowSchedule {
 public:
  // Empty until start(): the trainer fills it, the checkpoints record it.
  RowSchedule() = default;

  // Replaces everything with `history`: the first split from step 0, the steps not
  // decreasing, every split of the same workers and sum (one split: an even start).
  void start(std::vector<RowSplit> history);
  bool empty() const;

  // From global step `step` on, the split is `rows` (same sum). Steps must not decrease.
  void set_from(int64_t step, std::vector<int64_t> rows);
  // The split of a full global batch at `step`.
  std::vector<int64_t> at(int64_t step) const;
  // Worker `worker`'s rows of a global batch of `batch_rows` (the last of an epoch may be
  // shorter: the split scaled to it, the remainder to the first workers) and their offset in it.
  std::pair<int64_t, int64_t> offset_and_rows(int64_t step, int worker, int64_t batch_rows) const;
  // Every change so far, the first from step 0.
  std::vector<RowSplit> history() const;
  // The first step of the latest change (decided ahead: possibly a step not yet read).
  int64_t last_change() const;

 private:
  mutable std::mutex mu_;
  std::vector<RowSplit> changes_;
};

}  // namespace dtrain::data
