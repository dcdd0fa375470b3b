// Checkpoints: the whole training state in one HDF5 file that describes the whole model.
//
//   /params/<tensor>               every parameter, named as in the ParameterLayout
//                                  (conv1/kernel [32,1,5,5] oihw, dense1/kernel [1024,64,7,7], ...)
//   /optimizer/<state>/<tensor>    the optimizer's state per tensor (Adam: m, v; SGD: velocity)
//   /worker_steps                  int64 [workers]: steps each worker had done (async)
//   /servers                       int64 [servers, 4]: each parameter server's range begin, end,
//                                  pushes applied and optimizer steps (async)
//   /row_splits                    int64 [changes, 1 + workers]: --balance speed (sync): from
//                                  which global step on each worker computed how many rows of a
//                                  full global batch; a resume replays them (--replay-splits too)
//   attributes on /                dtrain_format, global_step, epoch, model, input_shape,
//                                  optimizer, optimizer_steps, mode, ranks, num_ps, workers, seed,
//                                  options (JSON)
//
// Randomness needs no saved generator state: initial weights, data order and dropout masks are
// all derived from (seed, epoch or global step, example id) by a counter-based generator.
//
// Files are written as ckpt-<step>.h5.tmp, flushed, fsync'ed and renamed, so a checkpoint is
// either whole or absent whatever moment the job is killed at; a failed write (a full disk)
// removes the .tmp and is an error. The last --keep-checkpoints are kept.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dtrain/data/example_source.h"
#include "dtrain/data/shard_plan.h"
#include "dtrain/nn/parameter_layout.h"
#include "dtrain/optim/optimizer.h"

namespace dtrain::train {

// A parameter server's counters at checkpoint time, for its range of the flat vector.
struct ServerCounters {
  std::size_t begin = 0, end = 0;
  int64_t pushes_applied = 0, optimizer_steps = 0;
};

using data::RowSplit;  // dtrain/data/shard_plan.h: the splits a --balance speed run records

// The run that wrote a checkpoint.
struct RunInfo {
  std::string mode;  // local | sync | async
  int ranks = 1, num_ps = 0, workers = 1;
  std::uint64_t seed = 1;
  std::map<std::string, std::string> options;
  std::string precision = "fp32";  // the writer's compute (--precision resolved; older: fp32)
  // The exchange the run used, as the flags that pin it ("--exchange sharded --bucket-mb 4
  // --compress none", "--num-ps 2"); empty when older or not chosen (comm/exchange_model.h).
  std::string exchange;
};

struct TrainingState {
  int64_t global_step = 0;
  double epoch = 0;
  std::string model;  // ModelSpec text
  data::ImageShape input;
  std::vector<float> params;  // flat, layout.total() floats
  optim::OptimizerKind optimizer = optim::OptimizerKind::kAdam;
  int64_t optimizer_steps = 0;
  optim::NamedArrays optimizer_state;  // flat, each layout.total()
  std::vector<int64_t> worker_steps;
  std::vector<ServerCounters> servers;
  std::vector<RowSplit> row_splits;  // every split so far, the first from step 0 (sync, balanced)
  RunInfo run;
};

// Writes atomically (see above). Throws Error naming the file.
void write_checkpoint(const std::string& path, const nn::ParameterLayout& layout,
                      const TrainingState& state);
// Reads a checkpoint written for `layout`. A damaged file is a DataError naming it.
TrainingState read_checkpoint(const std::string& path, const nn::ParameterLayout& layout);
// The model description a checkpoint or export holds (to build the model before reading it).
std::string read_model_spec(const std::string& path);
// The facts of the run that wrote a checkpoint (its mode, ranks, exchange, ...).
RunInfo read_run_info(const std::string& path);
// The input shape a checkpoint or export was trained on.
data::ImageShape read_input_shape(const std::string& path);
// The row splits a checkpoint recorded (--replay-splits). A file without them is a DataError.
std::vector<RowSplit> read_row_splits(const std::string& path);

class CheckpointDir {
 public:
  CheckpointDir(std::string dir, int keep);
  // ckpt-<step>.h5 files, newest last.
  std::vector<std::string> list() const;
  std::string path_for(int64_t step) const;
  // Writes and then removes all but the newest `keep`.
  void save(const nn::ParameterLayout& layout, const TrainingState& state) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int keep_;
};

}  // namespace dtrain::train
