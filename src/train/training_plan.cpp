#include "dtrain/train/training_plan.h"

#include <algorithm>

namespace dtrain::train {

data::ShardConfig TrainingPlan::shard_config(const TrainOptions& o, comm::Mode mode, int workers) {
  const bool async = mode == comm::Mode::kAsync;
  data::ShardConfig c;
  c.workers = workers;
  c.global_batch = async ? o.training.batch_size * workers : o.training.batch_size;
  c.seed = o.model.seed;
  c.shuffle_buffer = o.data.shuffle_buffer;
  c.policy =
      o.data.shard_by.value_or(async ? data::ShardPolicy::kFiles : data::ShardPolicy::kGlobal);
  return c;
}

TrainingPlan::TrainingPlan(std::vector<int64_t> unit_sizes, data::ShardConfig shard,
                           const TrainOptions& o)
    : shards_(std::move(unit_sizes), shard) {
  const int64_t steps = o.training.steps, epochs = o.training.epochs;
  epoch_starts_.push_back(0);
  auto more_epochs = [&] {
    const auto e = static_cast<int64_t>(epoch_starts_.size()) - 1;
    return steps > 0 ? epoch_starts_.back() < steps : e < epochs;
  };
  while (more_epochs() || epoch_starts_.size() < 2) {
    const auto e = static_cast<int64_t>(epoch_starts_.size()) - 1;
    epoch_starts_.push_back(epoch_starts_.back() + shards_.steps_in_epoch(e));
  }
  total_steps_ = steps > 0 ? steps : epoch_starts_.back();
  schedule_.base = o.model.lr;
  schedule_.decay_rate = o.model.lr_decay_rate;
  schedule_.decay_steps = o.model.lr_decay_steps > 0 ? o.model.lr_decay_steps : steps_per_epoch();
  schedule_.staircase = o.model.lr_staircase;
}

std::size_t TrainingPlan::epoch_index(int64_t step) const {
  auto it = std::upper_bound(epoch_starts_.begin(), epoch_starts_.end(), step);
  return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, it - epoch_starts_.begin() - 1));
}

double TrainingPlan::epoch_of(int64_t step) const {
  const std::size_t e = epoch_index(step);
  if (e + 1 >= epoch_starts_.size()) return static_cast<double>(e);
  const double len = static_cast<double>(epoch_starts_[e + 1] - epoch_starts_[e]);
  return static_cast<double>(e) + static_cast<double>(step - epoch_starts_[e]) / len;
}

bool TrainingPlan::ends_epoch(int64_t done) const {
  return std::binary_search(epoch_starts_.begin() + 1, epoch_starts_.end(), done);
}

}  // namespace dtrain::train
