// Checkpoints: the whole training state in one HDF5 file that describes the whole model.
//
//   /params/<tensor>               every parameter, named as in the ParameterLayout
//                                  (conv1/kernel [32,1,5,5] oihw, dense1/kernel [1024,64,7,7], ...)
//   /optimizer/<state>/<tensor>    the optimizer's state per tensor (Adam: m, v; SGD: velocity)
//   /worker_steps                  int64 [workers]: steps each worker had done (async)
//   attributes on /                dtrain_format, global_step, epoch, model, optimizer,
//                                  optimizer_steps, seed, mode, ranks, num_ps, options (JSON)
//
// Randomness needs no saved generator state: initial weights, data order and dropout masks are
// all derived from (seed, epoch or global step, example id) by a counter-based generator.
//
// Files are written as ckpt-<step>.h5.tmp, flushed, fsync'ed and renamed, so a checkpoint is
// either whole or absent whatever moment the job is killed at; the last --keep-checkpoints
// are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dtrain/nn/parameter_layout.h"

namespace dtrain::train {

struct TrainingState {
  int64_t global_step = 0;
  double epoch = 0;
  std::string model;          // ModelSpec text
  std::vector<float> params;  // flat, layout.total() floats
  std::string optimizer;      // adam | sgd
  int64_t optimizer_steps = 0;
  std::vector<std::pair<std::string, std::vector<float>>>
      optimizer_state;  // flat, each layout.total()
  std::vector<int64_t> worker_steps;
  nlohmann::json meta = nlohmann::json::object();  // seed, mode, ranks, num_ps, options...
};

// Writes atomically (see above). Throws Error naming the file.
void write_checkpoint(const std::string& path, const nn::ParameterLayout& layout,
                      const TrainingState& state);
// Reads a checkpoint written for `layout`; a different model is a clear error.
TrainingState read_checkpoint(const std::string& path, const nn::ParameterLayout& layout);
// The model description a checkpoint or export holds (to build the model before reading it).
std::string read_model_spec(const std::string& path);

class CheckpointDir {
 public:
  CheckpointDir(std::string dir, int keep);
  // ckpt-<step>.h5 files, newest last.
  std::vector<std::string> list() const;
  std::optional<std::string> latest() const;
  std::string path_for(int64_t step) const;
  // Writes and then removes all but the newest `keep`.
  void save(const nn::ParameterLayout& layout, const TrainingState& state) const;

 private:
  std::string dir_;
  int keep_;
};

}  // namespace dtrain::train
