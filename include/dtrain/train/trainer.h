// Trainer: the worker's training loop, the same for every mode. Per step: take the next batch
// from the BatchStream, let the GradientExchange refresh parameters, run forward/backward on
// the Replica, let the exchange apply the gradients; around that, progress lines, evaluation,
// summaries (TensorBoard, CSV), checkpoints and scheduler signals. Only the chief (worker 0)
// prints, summarises and checkpoints. Evaluation: in sync mode all workers evaluate their
// share of the test set together; otherwise the chief alone (in async mode, after its last
// step the caller evaluates the final weights).
#pragma once

#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/comm/roles.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/example_source.h"
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/metrics.h"
#include "dtrain/train/options.h"
#include "dtrain/train/training_plan.h"

namespace dtrain::data {
class RowSchedule;  // src/data/row_schedule.h: each rank's rows of a global batch, by step
}  // namespace dtrain::data

namespace dtrain::train {

class SummaryWriter;   // src/train/summary_writer.h: TensorBoard event files
class LocalCostMeter;  // src/train/local_cost.h: what node-local checkpoints add to the loop
class StragglerWatch;  // src/train/straggler_watch.h: who computes slower than the others

// What the chief does besides training, supplied by whoever runs the trainer.
struct TrainerHooks {
  // Writes a checkpoint of the state after `done` steps (empty: no checkpoints). Called on
  // every rank that sets it, when the ranks agreed on a checkpoint; the chief writes.
  std::function<void(int64_t done, double epoch)> save_checkpoint;
  // Takes this rank's part of a node-local checkpoint after `done` steps (empty: no node-local
  // level). Called on every rank that sets it when the ranks agreed on one.
  std::function<void(int64_t done, double epoch)> save_local_checkpoint;
  // Seconds of background work a node-local checkpoint costs on average (the writing), for
  // --local-checkpoint-steps auto.
  std::function<double()> local_background_seconds;
  // After every step (the node-local level's partner transfers and its record of the step).
  std::function<void(int64_t done)> each_step;
  // Where a node-local checkpoint is kept some steps after its own (an async cut): its step,
  // once, when the last one asked for is kept and its cost known (the next is due an interval
  // after that step). Unset: kept when save_local_checkpoint returns.
  std::function<std::optional<int64_t>()> local_kept;
  // The chief's node-local interval in effect (the steps from its last checkpoint to the next
  // it plans), whenever it plans one: recorded with every step, so that a restore names the
  // interval the loss met even where auto had just changed it.
  std::function<void(int64_t every)> local_interval;
  SummaryWriter* summaries = nullptr;
  MetricsCsv* csv = nullptr;
  // The staleness to record with summaries (async).
  std::function<std::optional<double>()> staleness;
  // Every 10 steps (StragglerWatch::kWindow), on every worker: this worker's compute totals
  // (seconds, rows) in; every worker's totals out, [seconds of each..., rows of each...], where
  // this rank judges (sync: every rank, after a sum over them; async: the chief, from the
  // servers), else nothing. Unset: no straggler watch.
  std::function<std::vector<double>(double seconds, double rows)> share_compute;
  // Async --balance speed: takes chunks of work from the shared counter until this worker holds
  // `depth` (comm/ps/window.h "Work taken"): the chunks taken now, oldest first (none left:
  // fewer). Chunk g is worker g % workers's share of global step g / workers. Unset: this
  // worker's even share of every step.
  std::function<std::vector<int64_t>(std::size_t depth)> take_work;
};

struct TrainerSetup {
  const TrainOptions* options = nullptr;
  nn::Replica* replica = nullptr;
  comm::GradientExchange* exchange = nullptr;
  std::shared_ptr<data::ExampleSource> train_data, test_data;
  comm::Mode mode = comm::Mode::kLocal;
  int worker = 0, workers = 1;  // this rank's worker index, and the worker count
  // Sync: the workers evaluate together, each its share of the test set, and this adds their
  // partial sums in place (a collective over them). Empty: this rank evaluates alone.
  std::function<void(std::span<double>)> sum_over_workers = nullptr;
  int64_t start_step = 0;  // resuming: the step to continue from
  TrainerHooks hooks = {};
  // The chief: each worker's name for a straggler's line ("rank 3 on h2"; empty: "worker W").
  std::vector<std::string> worker_names = {};
  // --balance speed (sync): the schedule of each step's rows, empty; the trainer starts it and
  // checkpoints record it (null: the even split). It starts from `row_splits` when they fit
  // (a resumed checkpoint's record, or --replay-splits), else evenly; `replay_splits`: follow
  // them only, never change them.
  std::shared_ptr<data::RowSchedule> rows = nullptr;
  std::vector<RowSplit> row_splits = {};
  bool replay_splits = false;
};

// A worker the chief named as computing slower than the others.
struct StragglerReport {
  int worker = 0;
  double ratio = 0;  // its compute time per row over the median worker's
  int64_t step = 0;  // named after this step
};

struct TrainResult {
  RunMetrics metrics;
  int64_t start_step = 0, last_step = 0;
  double data_wait_seconds = 0;
  int64_t skipped_records = 0;
  bool stopped = false;                 // ended early on SIGTERM/SIGINT, after a checkpoint
  double local_checkpoint_seconds = 0;  // in the loop, taking node-local checkpoints
  // The chief: the node-local checkpoints whose cost was measured as the time they added to
  // the loop's iterations after them (the intervals measured), and its recent mean.
  int local_checkpoints_measured = 0;
  double local_checkpoint_added_seconds = 0;
  // The chief, with more than one worker: each worker's mean compute time per row (forward and
  // backward, not the waits), and the workers named as stragglers.
  std::vector<double> compute_ms_per_row = {};
  std::vector<StragglerReport> stragglers = {};
  // --balance speed: each worker's rows of a full global batch at the end, and how many times
  // the split changed.
  std::vector<int64_t> rows_per_worker = {};
  int64_t split_changes = 0;
};

class Trainer {
 public:
  explicit Trainer(TrainerSetup setup);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;
  // Runs to the last step (or until an agreed stop) and returns what it measured. The
  // exchange's finish() is the caller's.
  TrainResult run();
  // Evaluates now and records the point as after `done` steps (the async chief's final eval).
  void evaluate_now(int64_t done, RunMetrics& metrics);
  const TrainingPlan& plan() const { return plan_; }
  bool chief() const { return s_.worker == 0; }

 private:
  // One step: batch, exchange, forward/backward, exchange; returns the step's loss sum.
  struct StepOutcome {
    double loss_sum = 0;
    int64_t rows = 0, images = 0;
    double seconds = 0;
    double compute_seconds = 0;  // forward and backward: the step without its waits
  };
  StepOutcome train_step(data::BatchStream& stream, int64_t step);
  data::BatchStream::Options stream_options() const;
  // The global step of the next batch, or nothing when this worker's work is done: the next
  // step of the run, or (work taken) of the oldest chunk held, after taking more.
  std::optional<int64_t> next_step(data::BatchStream& stream);
  // Whether `done` is the first multiple of `every` (> 0) past the step before it (steps jump
  // where the work is taken from a shared counter).
  bool reached(int64_t done, int64_t every) const;
  void maybe_evaluate(int64_t done, bool last, RunMetrics& metrics);
  void log_progress(int64_t done, double loss, double rate, int64_t images);
  void write_summaries(int64_t done, double loss, double rate);
  // Every StragglerWatch::kWindow steps: the workers share their compute time per row; the
  // chief names a straggler.
  void share_compute_times(int64_t done);
  // --balance speed, after a share: the split by the workers' last figures, from a step past
  // the batches the reader may hold (the same on every rank: the same figures, the same rule).
  // Returns that step, or nothing when the split stays.
  std::optional<int64_t> rebalance(int64_t done);
  // Agrees with the other ranks on checkpoint/stop after `done` steps and acts; true to stop.
  bool checkpoint_or_stop(int64_t done, bool last);
  // The chief: is a node-local checkpoint due after `done` steps? (Then the next is planned.)
  bool local_due(int64_t done);
  // The chief, when the node-local checkpoint of `step` is kept: the next is planned from it.
  void local_kept(int64_t step);
  // --local-checkpoint-steps auto: the interval from the cost measured so far.
  void retune_local();
  // The node-local interval in effect: the fixed one, auto's latest, or auto's first.
  int64_t local_interval() const;
  float learning_rate(int64_t step);

  TrainerSetup s_;
  TrainingPlan plan_;
  double last_checkpoint_time_ = 0;
  int slow_ms_ = 0;  // test hook (DTRAIN_TEST_SLOW_WORKER)
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> ids_file_;  // test hook (DTRAIN_TEST_RECORD_IDS)
  // Node-local checkpoints (the chief's schedule): every local_every_ steps, the next one at
  // next_local_; auto measures the step time (an average) and the checkpoints' cost.
  int64_t local_every_ = 0, next_local_ = 0;
  double step_seconds_ = 0;
  int64_t local_announced_ = 0;                 // the node-local interval last printed
  bool local_measured_announced_ = false;       // printed since its cost was first measured
  double local_seconds_ = 0;                    // spent in the loop taking node-local checkpoints
  int64_t local_count_ = 0;                     // node-local checkpoints taken
  int64_t local_planned_from_ = 0;              // the step of the newest kept one
  std::unique_ptr<LocalCostMeter> local_cost_;  // what they add to the loop's iterations
  bool iteration_has_other_work_ = false;       // an evaluation or a --model-dir checkpoint
  std::unique_ptr<StragglerWatch> stragglers_;  // more than one worker
  std::vector<StragglerReport> named_;          // the chief: the stragglers named so far
  std::shared_ptr<data::RowSchedule> rows_;     // --balance speed: the rows of each worker
  // Starts rows_ from the recorded splits, or evenly when there are none or they do not fit.
  void start_rows();
  int64_t quantum_ = 1, split_changes_ = 0;  // rows move in multiples of quantum_
  int64_t prev_done_ = 0;                    // the steps done before this iteration's
  std::deque<int64_t> taken_;                // work taken: the chunks held, oldest first
};

}  // namespace dtrain::train
