// Command-line and config-file options of mnist_train (Boost.Program_options), typed.
//
// Options come in the groups --help shows: data, model, training, distribution, output. Every
// option can also be given in a --config file as "name = value" lines; the command line wins.
// Choices (--dist, --mode, --format, ...) are parsed into enums once, here; an invalid value is
// an OptionError naming the option and what is allowed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dtrain/comm/roles.h"
#include "dtrain/comm/stall_settings.h"
#include "dtrain/data/dataset.h"
#include "dtrain/data/shard_plan.h"
#include "dtrain/optim/optimizer.h"

namespace dtrain::train {

enum class RunMode { kTrain, kInference, kExport };
enum class OutputFormat { kJsonl, kCsv };

std::string to_string(RunMode m);
std::string to_string(OutputFormat f);
using data::Format;
using optim::OptimizerKind;
// Parsers used at the edge (options, tests, tools); each throws OptionError naming `option`.
Format parse_data_format(const std::string& s, const char* option = "format");
OptimizerKind parse_optimizer(const std::string& s, const char* option = "optimizer");

struct DataOptions {
  std::string data_dir = "data/mnist";  // IDX files, used when train_data is empty
  std::string train_data, test_data;    // directory, glob or comma list of shards
  Format format = Format::kAuto;
  std::string features;               // image=NAME,label=NAME (TFRecord features, HDF5 datasets)
  std::vector<std::string> io_hints;  // MPI-IO hints KEY=VALUE
  bool skip_corrupt = false;
  int num_classes = 10;
  std::optional<data::ShardPolicy> shard_by;  // default by mode: global (sync), files (async)
  int64_t shuffle_buffer = 10000;
  int prefetch = 4;
};

struct ModelOptions {
  std::string arch = "cnn";  // --arch: a preset or a layer list
  OptimizerKind optimizer = OptimizerKind::kAdam;
  float lr = 1e-3f;
  float lr_decay_rate = 0.6f;  // per --lr-decay-steps (default: one epoch)
  int64_t lr_decay_steps = 0;
  bool lr_staircase = false;
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.f;
  std::uint64_t seed = 1;
  std::string precision = "fp32";  // --precision fp32|bf16|auto (dtrain/nn/precision.h)
};

struct TrainingOptions {
  int64_t batch_size = 100;  // global in sync mode, per worker in async mode
  int64_t epochs = 5;
  int64_t steps = 0;       // > 0 overrides epochs
  int64_t eval_every = 0;  // 0 = once per epoch
  // 100, not 1000: activations of a 1000-image batch made evaluation the peak of resident
  // memory (425 MB against 228 MB for a default 300-step run), for 7% faster evaluation.
  int64_t eval_batch_size = 100;
  int64_t log_every = 100;
};

// Async with --local-checkpoint-dir and no --max-staleness: the bound that stops the other
// workers within a few steps of a lost one (a worker alone could otherwise train on until the
// launcher ends the job, work the restore throws away). Equal workers stay within 2-3 steps.
inline constexpr int64_t kLocalLevelMaxStaleness = 8;

// --balance: how the work is shared over the workers.
enum class Balance {
  kOff,    // evenly (the last ranks one row fewer where it does not divide)
  kSpeed,  // sync: rows in proportion to each rank's measured compute speed
           // (train/row_balance.h); async: work taken from a shared counter (comm/ps/window.h)
};

struct DistributionOptions {
  std::optional<comm::Mode> dist;  // --dist; default: async for > 1 rank, else local
  int num_ps = 1;                  // 0: --num-ps auto (chosen from the measured links)
  comm::PsPlacement ps_placement = comm::PsPlacement::kSpread;
  int64_t max_staleness = -1;  // < 0: unbounded; kLocalLevelMaxStaleness with the local level
  // Sync: how gradients are reduced (--exchange; auto: chosen from the links measured at
  // start-up across nodes, comm/exchange_model.h), the bucket size (0: auto).
  comm::ExchangeKind exchange = comm::ExchangeKind::kAuto;
  double bucket_mb = 0;
  bool shard_optimizer = true;  // sync: each rank updates its slice (ZeRO-1)
  bool shared_params = false;   // sync, sharded, one node: one parameter copy, no allgather
  comm::Compression compress = comm::Compression::kNone;  // sync: gradients on the wire
  bool compress_auto = false;       // --compress auto: the choice may put fp16 on the wire
  Balance balance = Balance::kOff;  // how the work is shared
  std::string replay_splits;  // --replay-splits: a checkpoint whose recorded row splits to follow
  comm::StallSettings stall;  // --stall-timeout
  int threads = 0;            // 0 = the cores of this node divided among its workers
};

struct OutputOptions {
  std::string model_dir;  // checkpoints; training resumes from the newest valid one
  int64_t checkpoint_steps = 0;
  double checkpoint_secs = 0;
  int keep_checkpoints = 3;
  bool resume = false;
  // The node-local level: a directory on every node (node memory or a local disk), and a
  // local checkpoint every N steps (0: auto, as often as 2% of the step time allows).
  std::string local_checkpoint_dir;
  int64_t local_checkpoint_steps = 0;
  std::string export_path;
  std::string metrics_json, metrics_csv, log_dir;
  std::string timeline;          // Chrome trace-event JSON of every rank's spans
  bool timeline_layers = false;  // ... with one span per layer in forward and backward
  int64_t summary_steps = 100;
  // Inference
  std::string output_dir;
  OutputFormat output_format = OutputFormat::kJsonl;
  std::string output_mapping = "id,label,prediction";
};

struct TrainOptions {
  RunMode mode = RunMode::kTrain;
  std::string model_path;  // --model: a model file or checkpoint (inference, export)
  DataOptions data;
  ModelOptions model;
  TrainingOptions training;
  DistributionOptions dist;
  OutputOptions output;

  // Every option as given or defaulted, as strings, for metrics, checkpoints and the
  // cross-rank digest.
  std::map<std::string, std::string> recorded;
};

// Parses argv (and --config). Returns false when --help was asked for (help text in *help).
// Throws OptionError for bad input, validate()'s verdict included.
bool parse_options(int argc, char** argv, TrainOptions* out, std::string* help);

// The rules between options, in one place: throws OptionError naming the options when a
// combination cannot run (--resume without --model-dir, --shared-params with
// --no-shard-optimizer, ...). The rules that need the number of ranks (--compress under the
// default --dist) are checked where the roles are known.
void validate(const TrainOptions& o);

}  // namespace dtrain::train
