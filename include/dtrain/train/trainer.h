// Trainer: the worker's training loop, the same for every mode. Per step: take the next batch
// from the BatchStream, let the GradientExchange refresh parameters, run forward/backward on
// the Replica, let the exchange apply the gradients; around that, progress lines, evaluation,
// summaries (TensorBoard, CSV), checkpoints and scheduler signals. Only the chief (worker 0)
// prints, evaluates, summarises and checkpoints, except in sync mode where all workers
// evaluate their share of the test set together.
#pragma once

#include <functional>
#include <memory>

#include <mpi.h>

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/optim/lr_schedule.h"
#include "dtrain/train/metrics.h"
#include "dtrain/train/options.h"
#include "dtrain/train/summary_writer.h"

namespace dtrain::train {

struct TrainerSetup {
  const TrainOptions* options = nullptr;
  nn::Replica* replica = nullptr;
  comm::GradientExchange* exchange = nullptr;
  std::shared_ptr<data::ExampleSource> train_data, test_data;
  data::ShardConfig shard;
  int worker = 0;                      // this rank's worker index
  bool chief = true;                   // prints progress, evaluates, summarises, checkpoints
  MPI_Comm eval_comm = MPI_COMM_NULL;  // set: evaluate data-parallel over this communicator
  bool evaluate = true;                // false: this worker never evaluates
  bool evaluate_last = true;  // false: the caller evaluates after the last step (async chief)
  // true: the step's batch is the global batch (sync, local): loss mean and images/s over it.
  // false: each worker's own rows (async).
  bool count_global_rows = true;
  int64_t start_step = 0;  // resuming: the global step to continue from
  // Chief: writes a checkpoint of the state after `steps_done` steps.
  std::function<void(int64_t steps_done, double epoch)> save_checkpoint;
  SummaryWriter* summaries = nullptr;
  MetricsCsv* csv = nullptr;
  // Extra scalars for summaries (e.g. async staleness), read at summary steps.
  std::function<std::vector<std::pair<std::string, double>>()> extra_scalars;
};

class Trainer {
 public:
  explicit Trainer(TrainerSetup setup);
  // Runs to the last step (or until a stop signal) and returns the metrics. The exchange's
  // finish() is the caller's.
  RunMetrics run();
  // Evaluates now and records the point as after `steps` steps (for the caller's final eval).
  void evaluate_now(int64_t steps, RunMetrics& metrics);
  optim::LrSchedule schedule() const { return schedule_; }
  int64_t total_steps() const { return total_steps_; }
  double epoch_of(int64_t step) const;
  // Index of the epoch that global step `step` lies in (epoch_starts_[i] <= step).
  std::size_t epoch_index(int64_t step) const;
  // True when the run ended early on SIGTERM/SIGINT (after a checkpoint).
  bool stopped_by_signal() const { return stopped_; }

 private:
  void maybe_evaluate(int64_t step, bool last, RunMetrics& metrics);
  void write_summaries(int64_t step, double loss, double images_per_sec);

  TrainerSetup s_;
  data::ShardPlan plan_;
  optim::LrSchedule schedule_;
  std::vector<int64_t> epoch_starts_;  // global step at which each epoch starts
  int64_t total_steps_ = 0;
  bool stopped_ = false;
  double last_checkpoint_time_ = 0;
};

}  // namespace dtrain::train
