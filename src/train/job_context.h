// JobContext: everything a rank knows once the job has been checked and set up, before any
// role starts: options, roles, the model, the data (workers), the checkpoint to continue from
// and the facts every rank agreed on.
//
// prepare_job() builds it collectively. Everything that can refuse a job is checked there, on
// every rank: the options (the same on every rank), the data (opened on each rank by itself,
// shapes matched), the output directories, the newest valid checkpoint. The ranks then agree
// on a verdict: when any rank failed, every rank throws the same StartupError naming the first
// failing rank (main prints it once and every rank exits 2). After prepare_job() returns, an
// error on any rank ends the whole job (MPI_Abort).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "comm/stall.h"
#include "comm/watchdog.h"
#include "data/row_schedule.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/roles.h"
#include "dtrain/data/example_source.h"
#include "dtrain/nn/model.h"
#include "dtrain/nn/precision.h"
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/options.h"
#include "dtrain/train/training_plan.h"
#include "train/exchange_plan.h"
#include "train/local_level.h"

namespace dtrain::train {

// What the chief tells every rank at start-up (servers read no data).
struct JobFacts {
  data::ImageShape input;
  int64_t total_steps = 0;     // per worker
  optim::LrSchedule schedule;  // per worker step
};

struct JobContext {
  JobContext(const TrainOptions& o, const comm::MpiEnv& m) : options(o), mpi(m) {}
  const TrainOptions& options;
  const comm::MpiEnv& mpi;
  comm::Roles roles;
  int threads = 1;
  double wall0 = 0;
  std::unique_ptr<comm::Watchdog> watchdog;          // blocking collectives and flushes
  std::shared_ptr<data::ExampleSource> train, test;  // workers only
  JobFacts facts;
  std::unique_ptr<nn::Model> model;
  nn::Precision precision = nn::Precision::kFp32;  // a worker's, resolved on its own CPU
  std::string precision_note;                      // what was picked and why
  std::optional<TrainingState> resumed;            // the checkpoint this run continues from
  std::string resumed_path;
  std::vector<int> nodes;             // the node of every rank (its lowest rank)
  std::vector<std::string> hosts;     // rank 0, after the role table: every rank's host
  std::unique_ptr<LocalLevel> local;  // --local-checkpoint-dir: the node-local level
  std::string local_report;           // where a resume came from, for the chief to print
  std::string local_run_id;           // this run, in its node-local parts
  // --balance speed (sync, 2+ workers): each step's split of the global batch, which the
  // trainer fills and every checkpoint records; null otherwise.
  std::shared_ptr<data::RowSchedule> rows;
  std::vector<RowSplit> replay_splits;  // --replay-splits: the splits to follow (workers)
  ExchangePlan exchange;                // how gradients travel, and why (exchange_plan.h)

  comm::StallPolicy stall() const;
  // Fills the parts of a checkpoint that describe this run.
  TrainingState state_header(int64_t steps, double epoch) const;
  // Writes `state` into --model-dir (keeping the newest --keep-checkpoints) and says so.
  void save_checkpoint(const TrainingState& state) const;
  // An empty part of this rank's node-local checkpoint of `step`, carrying `facts` if given.
  CheckpointPart local_part(int64_t step, const std::optional<TrainingState>& step_facts) const;
  // Ends the node-local level (collective): clean when --model-dir holds the newest state.
  void finish_local(bool stopped) const;
};

// Collective; see above. Throws StartupError (the same on every rank) when the job cannot run.
std::unique_ptr<JobContext> prepare_job(const TrainOptions& o, const comm::MpiEnv& mpi);

// The data set named by `paths` (--train-data / --test-data forms) with the data options of
// `o`; the IDX files in --data-dir with the given prefix ("train", "t10k") when paths is empty.
std::shared_ptr<data::ExampleSource> open_data(const TrainOptions& o, const std::string& paths,
                                               const char* idx_prefix,
                                               bool labels_optional = false);

}  // namespace dtrain::train
