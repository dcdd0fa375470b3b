// ShardPlan: which examples each worker reads at each step of an epoch.
//
// Every epoch is a partition of all example ids over the workers: across workers, each example
// is read exactly once. The plan depends only on (unit sizes, config, epoch), so every rank
// computes every other rank's share without talking to it; that is how all ranks agree on the
// number of steps in an epoch and on the true size of each global batch.
//
// Two policies:
//  - kGlobal: the epoch is one permutation of all ids (keyed by seed and epoch); global batch s
//    is positions [s*B, (s+1)*B) and worker w reads its fixed slice of it. The batches do not
//    depend on the number of workers: N ranks see exactly the examples 1 rank would see.
//  - kFiles: units (files, or record ranges when there are fewer files than workers) are
//    shuffled and dealt to workers balanced by size; each worker streams its units through a
//    bounded shuffle buffer, like a TFRecordDataset.shuffle(K) pipeline. Reads are local to a
//    few files per worker, which is what a parallel file system likes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dtrain/data/example_source.h"

namespace dtrain::data {

enum class ShardPolicy { kGlobal, kFiles };
std::string to_string(ShardPolicy p);

// A split of the global batch by speed (--balance speed, sync): from global step `from_step`
// on, worker w computes rows[w] rows of each full global batch (until the next split). The
// schedule of them is src/data/row_schedule.h; checkpoints record them.
struct RowSplit {
  int64_t from_step = 0;
  std::vector<int64_t> rows;
  bool operator==(const RowSplit&) const = default;
};

struct ShardConfig {
  ShardPolicy policy = ShardPolicy::kGlobal;
  int workers = 1;
  int64_t global_batch = 100;  // split over workers: worker w reads about global_batch/workers
  std::uint64_t seed = 1;
  int64_t shuffle_buffer = 10000;  // kFiles only
  bool shuffle = true;             // false: natural order (evaluation, inference)
};

class ShardPlan {
 public:
  ShardPlan(std::vector<int64_t> unit_sizes, ShardConfig config);

  const ShardConfig& config() const { return config_; }
  int64_t examples() const { return index_.total(); }
  // Rows worker w reads in a full step.
  int64_t worker_batch(int worker) const;
  // Steps in the epoch; the same for every worker (a worker that runs out reads empty steps).
  int64_t steps_in_epoch(int64_t epoch) const;
  // The ids `worker` reads at each step of `epoch` (an empty vector for a padded step).
  std::vector<std::vector<int64_t>> worker_steps(int64_t epoch, int worker) const;
  // kGlobal: the epoch's order of all ids; global batch s is positions [s*B, (s+1)*B).
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Total real rows over all workers at each step: the divisor of the mean loss.
  std::vector<int64_t> global_rows(int64_t epoch) const;

 private:
  // kFiles: the ids each worker streams this epoch, before the shuffle buffer.
  std::vector<std::vector<int64_t>> deal_units(int64_t epoch) const;
  std::vector<int64_t> worker_counts(int64_t epoch) const;

  UnitIndex index_;
  ShardConfig config_;
};

}  // namespace dtrain::data
