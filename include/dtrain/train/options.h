// Command-line and config-file options of mnist_train (Boost.Program_options).
//
// Every option can also be given in a --config file as "name = value" lines; the command line
// wins. An invalid value is an OptionError naming the option and what is allowed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dtrain::train {

struct TrainOptions {
  // Data
  std::string data_dir = "data/mnist";
  std::string train_data, test_data;  // directory, glob or comma list; empty = IDX in data_dir
  std::string format = "auto";        // auto | idx | hdf5 | tfrecord
  std::string features;               // image=NAME,label=NAME for TFRecord
  std::vector<std::string> io_hints;  // MPI-IO hints KEY=VALUE
  bool hdf5_collective = false;
  bool skip_corrupt = false;
  int num_classes = 10;
  std::string shard_by;  // global | files (default by mode)
  int64_t shuffle_buffer = 10000;
  int prefetch = 4;
  // Model and optimisation
  std::string model = "cnn";  // --arch: preset or layer list
  int64_t batch_size = 100;
  int64_t epochs = 5;
  int64_t steps = 0;  // > 0 overrides epochs
  float lr = 1e-3f;
  float lr_decay_rate = 0.6f;  // per --lr-decay-steps (default: one epoch)
  int64_t lr_decay_steps = 0;
  bool lr_staircase = false;
  std::string optimizer = "adam";
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.f;
  std::uint64_t seed = 1;
  // Execution and reporting
  int threads = 0;         // 0 = the cores of this node divided among its ranks
  int64_t eval_every = 0;  // 0 = once per epoch
  int64_t eval_batch_size = 1000;
  int64_t log_every = 100;
  std::string metrics_json;
  // Checkpoints, summaries, inference, export
  std::string mode = "train";  // train | inference | export
  std::string model_path;      // --model: model file or checkpoint (inference, export)
  std::string model_dir;       // checkpoints
  int64_t checkpoint_steps = 0;
  double checkpoint_secs = 0;
  int keep_checkpoints = 3;
  bool resume = false;
  std::string export_path;
  std::string output_dir;
  std::string output_format = "jsonl";
  std::string output_mapping = "id,label,prediction";
  std::string log_dir;
  int64_t summary_steps = 100;
  std::string metrics_csv;
  // Distribution
  std::string dist;  // async | sync | "" (async when more than one rank)
  int num_ps = 1;
  int64_t max_staleness = -1;  // < 0: unbounded
  double bucket_mb = 4.0;
  double stall_timeout = 300.0;

  // Every option as given or defaulted, as strings, for metrics and checkpoints.
  std::map<std::string, std::string> recorded;
};

// Parses argv (and --config). Returns false when --help was asked for (help text in *help).
// Throws OptionError for bad input.
bool parse_options(int argc, char** argv, TrainOptions* out, std::string* help);

}  // namespace dtrain::train
