// TrainingPlan: the steps of one worker's run, laid out before it starts. Epochs of the
// ShardPlan follow each other (their lengths can differ under the files policy), --steps or
// --epochs says where the run ends, and the learning rate decays per epoch unless
// --lr-decay-steps says otherwise. Every rank can build it from the data's unit sizes alone, so
// all agree on the step count, the epoch of a step and the decay period.
#pragma once

#include <cstdint>
#include <vector>

#include "dtrain/data/shard_plan.h"
#include "dtrain/optim/lr_schedule.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

class TrainingPlan {
 public:
  // How this mode splits the data: sync and local split the global batch over the workers
  // (global shards by default); async gives each worker its own batch (file shards).
  static data::ShardConfig shard_config(const TrainOptions& o, comm::Mode mode, int workers);

  TrainingPlan(std::vector<int64_t> unit_sizes, data::ShardConfig shard, const TrainOptions& o);

  const data::ShardPlan& shards() const { return shards_; }
  int64_t total_steps() const { return total_steps_; }
  // Steps in the first epoch: the default decay period.
  int64_t steps_per_epoch() const { return epoch_starts_[1] - epoch_starts_[0]; }
  const optim::LrSchedule& schedule() const { return schedule_; }
  // Index of the epoch that global step `step` lies in, and the epoch as a fraction.
  std::size_t epoch_index(int64_t step) const;
  double epoch_of(int64_t step) const;
  int64_t epoch_start(std::size_t epoch) const { return epoch_starts_[epoch]; }
  // True when `done` steps complete an epoch.
  bool ends_epoch(int64_t done) const;

 private:
  data::ShardPlan shards_;
  std::vector<int64_t> epoch_starts_;  // global step at which each epoch starts
  int64_t total_steps_ = 0;
  optim::LrSchedule schedule_;
};

}  // namespace dtrain::train
