#include "dtrain/train/options.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "dtrain/util/error.h"
#include "util/version.h"

namespace dtrain::train {

namespace po = boost::program_options;

namespace {

// A float default as the user would type it: "0.001", not "0.00100000005".
std::string shown(float v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

template <typename T>
auto at_least(const char* name, T min) {
  return [name, min](T v) {
    if (v < min) {
      std::ostringstream msg;
      msg << "--" << name << ": " << v << " is not allowed (expected >= " << min << ")";
      throw OptionError(msg.str());
    }
  };
}

template <typename T>
auto positive(const char* name) {
  return [name](T v) {
    if (!(v > 0)) throw OptionError(std::string("--") + name + ": must be > 0");
  };
}

// An enum option: the names it accepts and the values they stand for, in --help order.
template <typename E>
using Choices = std::vector<std::pair<std::string, E>>;

template <typename E>
E choose(const char* option, const Choices<E>& choices, const std::string& v) {
  std::string list;
  for (const auto& [name, value] : choices) {
    if (name == v) return value;
    list += (list.empty() ? "" : ", ") + name;
  }
  throw OptionError(std::string("--") + option + ": '" + v + "' is not allowed (expected one of " +
                    list + ")");
}

template <typename E>
std::string name_of(const Choices<E>& choices, E e) {
  for (const auto& [name, value] : choices) {
    if (value == e) return name;
  }
  return "?";
}

// An option holding an enum, parsed from its name when Boost notifies it.
template <typename E>
po::typed_value<std::string>* enum_value(const char* option, const Choices<E>& choices, E* out,
                                         bool show_default = true) {
  auto* v = po::value<std::string>()->notifier(
      [option, choices, out](const std::string& s) { *out = choose(option, choices, s); });
  if (show_default) v->default_value(name_of(choices, *out));
  return v;
}

// "auto" (stored as 0) or a number that `allowed` accepts (`expected` says which).
template <typename T, typename Allowed>
po::typed_value<std::string>* auto_or_number(const char* option, const char* expected,
                                             Allowed allowed, T* out) {
  auto* v = po::value<std::string>()->notifier([=](const std::string& s) {
    if (s == "auto") {
      *out = 0;
      return;
    }
    std::istringstream in(s);
    T n{};
    if (!(in >> n) || !in.eof() || !allowed(n))
      throw OptionError(std::string("--") + option + ": '" + s +
                        "' is not allowed (expected auto or " + expected + ")");
    *out = n;
  });
  std::ostringstream shown_default;
  if (*out == 0)
    shown_default << "auto";
  else
    shown_default << *out;
  v->default_value(shown_default.str());
  return v;
}

const Choices<RunMode> kModes = {
    {"train", RunMode::kTrain}, {"inference", RunMode::kInference}, {"export", RunMode::kExport}};
const Choices<comm::PsPlacement> kPlacements = {{"spread", comm::PsPlacement::kSpread},
                                                {"pack", comm::PsPlacement::kPack}};
const Choices<comm::Mode> kDists = {{"async", comm::Mode::kAsync}, {"sync", comm::Mode::kSync}};
const Choices<comm::Compression> kCompressions = {{"none", comm::Compression::kNone},
                                                  {"fp16", comm::Compression::kFp16}};
const Choices<comm::ExchangeKind> kExchanges = {{"auto", comm::ExchangeKind::kAuto},
                                                {"sharded", comm::ExchangeKind::kSharded},
                                                {"whole", comm::ExchangeKind::kWhole},
                                                {"ring", comm::ExchangeKind::kRing}};
const Choices<Balance> kBalances = {{"off", Balance::kOff}, {"speed", Balance::kSpeed}};
const Choices<Format> kFormats = {{"auto", Format::kAuto},
                                  {"idx", Format::kIdx},
                                  {"hdf5", Format::kHdf5},
                                  {"tfrecord", Format::kTfrecord}};
const Choices<Format> kAllFormats = {{"auto", Format::kAuto},
                                     {"idx", Format::kIdx},
                                     {"hdf5", Format::kHdf5},
                                     {"tfrecord", Format::kTfrecord},
                                     {"csv", Format::kCsv}};
const Choices<OutputFormat> kOutputFormats = {{"jsonl", OutputFormat::kJsonl},
                                              {"csv", OutputFormat::kCsv}};
const Choices<OptimizerKind> kOptimizers = {{"adam", OptimizerKind::kAdam},
                                            {"sgd", OptimizerKind::kSgd}};
const Choices<data::ShardPolicy> kShardPolicies = {{"global", data::ShardPolicy::kGlobal},
                                                   {"files", data::ShardPolicy::kFiles}};

po::options_description data_group(DataOptions& d, data::ShardPolicy& shard_by) {
  po::options_description g("Data");
  g.add_options()(
      "data-dir", po::value(&d.data_dir)->default_value(d.data_dir),
      "directory with the MNIST IDX files (raw or .gz); used when --train-data is not given")(
      "train-data", po::value(&d.train_data),
      "training set: a file, directory, glob or comma-separated list of HDF5/TFRecord shards")(
      "test-data", po::value(&d.test_data), "test set, same forms as --train-data")(
      "format", enum_value("format", kFormats, &d.format),
      "data format: auto (detected from the files), idx, hdf5 or tfrecord")(
      "features", po::value(&d.features),
      "TFRecord feature names, e.g. image=image_raw,label=label (default image=image,label=label)")(
      "io-hint", po::value(&d.io_hints)->composing(),
      "MPI-IO hint KEY=VALUE for HDF5 files, repeatable (e.g. striping_factor=8)")(
      "skip-corrupt", po::bool_switch(&d.skip_corrupt),
      "skip corrupt TFRecord records (counted and reported) instead of failing")(
      "num-classes",
      po::value(&d.num_classes)->default_value(d.num_classes)->notifier(at_least("num-classes", 2)),
      "number of label classes")(
      "shard-by", enum_value("shard-by", kShardPolicies, &shard_by, false),
      "how the epoch is split over workers: global (one permutation, rank-independent batches; "
      "default for sync) or files (files/record ranges per worker; default for async)")(
      "shuffle-buffer",
      po::value(&d.shuffle_buffer)
          ->default_value(d.shuffle_buffer)
          ->notifier(at_least<int64_t>("shuffle-buffer", 1)),
      "shuffle buffer size (--shard-by files)")(
      "prefetch",
      po::value(&d.prefetch)->default_value(d.prefetch)->notifier(at_least("prefetch", 1)),
      "batches read ahead by the background reader");
  return g;
}

po::options_description model_group(ModelOptions& m) {
  po::options_description g("Model");
  g.add_options()("arch", po::value(&m.arch)->default_value(m.arch),
                  "network: a preset (cnn, mlp) or a layer list, e.g. "
                  "conv:5:32:relu,maxpool:2,dense:10")(
      "optimizer", enum_value("optimizer", kOptimizers, &m.optimizer),
      "adam or sgd (with momentum)")(
      "lr", po::value(&m.lr)->default_value(m.lr, shown(m.lr))->notifier(positive<float>("lr")),
      "learning rate")("lr-decay-rate",
                       po::value(&m.lr_decay_rate)
                           ->default_value(m.lr_decay_rate, shown(m.lr_decay_rate))
                           ->notifier([](float v) {
                             if (!(v > 0.f && v <= 1.f))
                               throw OptionError("--lr-decay-rate: must be in (0, 1]");
                           }),
                       "exponential decay: lr * rate^(step / decay-steps)")(
      "lr-decay-steps",
      po::value(&m.lr_decay_steps)
          ->default_value(m.lr_decay_steps)
          ->notifier(at_least<int64_t>("lr-decay-steps", 0)),
      "decay period in steps (0: one epoch)")("lr-staircase", po::bool_switch(&m.lr_staircase),
                                              "decay in whole periods")(
      "momentum", po::value(&m.momentum)->default_value(m.momentum, shown(m.momentum)),
      "SGD momentum")("nesterov", po::bool_switch(&m.nesterov), "SGD: Nesterov momentum")(
      "weight-decay",
      po::value(&m.weight_decay)->default_value(m.weight_decay, shown(m.weight_decay)),
      "L2 weight decay")("seed", po::value(&m.seed)->default_value(m.seed),
                         "seed for initial weights, data order and dropout")(
      "precision",
      po::value(&m.precision)->default_value(m.precision)->notifier([](const std::string& v) {
        if (v != "fp32" && v != "bf16" && v != "auto")
          throw OptionError("--precision " + v + ": expected fp32, bf16 or auto");
      }),
      "fp32, or bf16 for the convolutions after the first and the dense layers (needs "
      "AVX512_BF16; fp32 master weights, optimizer and exchange), or auto: bf16 where the CPU "
      "computes it natively");
  return g;
}

po::options_description training_group(TrainingOptions& t) {
  po::options_description g("Training");
  g.add_options()("batch-size",
                  po::value(&t.batch_size)
                      ->default_value(t.batch_size)
                      ->notifier(at_least<int64_t>("batch-size", 1)),
                  "global batch size (split over the workers in sync mode; per worker in async)")(
      "epochs",
      po::value(&t.epochs)->default_value(t.epochs)->notifier(at_least<int64_t>("epochs", 1)),
      "passes over the training set")(
      "steps", po::value(&t.steps)->default_value(t.steps)->notifier(at_least<int64_t>("steps", 0)),
      "train this many steps instead (0: use --epochs)")(
      "eval-every",
      po::value(&t.eval_every)
          ->default_value(t.eval_every)
          ->notifier(at_least<int64_t>("eval-every", 0)),
      "evaluate on the test set every N steps (0: every epoch)")(
      "eval-batch-size",
      po::value(&t.eval_batch_size)
          ->default_value(t.eval_batch_size)
          ->notifier(at_least<int64_t>("eval-batch-size", 1)),
      "batch size for evaluation and inference")("log-every",
                                                 po::value(&t.log_every)
                                                     ->default_value(t.log_every)
                                                     ->notifier(at_least<int64_t>("log-every", 1)),
                                                 "progress line every N steps");
  return g;
}

// --compress none|fp16|auto: auto keeps fp32 unless the exchange's choice puts fp16 on the wire.
po::typed_value<std::string>* compress_value(DistributionOptions* d) {
  return po::value<std::string>()->default_value("none")->notifier([d](const std::string& s) {
    d->compress_auto = s == "auto";
    if (d->compress_auto) return;
    if (s != "none" && s != "fp16")
      throw OptionError("--compress: '" + s +
                        "' is not allowed (expected one of none, fp16, auto)");
    d->compress = choose("compress", kCompressions, s);
  });
}

po::options_description distribution_group(DistributionOptions& d, comm::Mode& dist) {
  po::options_description g("Distribution");
  g.add_options()(
      "dist", enum_value("dist", kDists, &dist, false),
      "async (parameter servers + workers) or sync (allreduce); default async for > 1 rank")(
      "num-ps",
      auto_or_number(
          "num-ps", "a whole number >= 1", [](int n) { return n >= 1; }, &d.num_ps),
      "parameter-server ranks in async mode, or auto: as many as the links measured at "
      "start-up make fastest (comm/exchange_model.h)")(
      "ps-placement", enum_value("ps-placement", kPlacements, &d.ps_placement),
      "spread: servers on different nodes first (the first rank of each node in turn); pack: "
      "ranks 0..num-ps-1")(
      "max-staleness", po::value(&d.max_staleness)->default_value(d.max_staleness),
      "async: a worker waits while it is more than S steps ahead of the slowest (< 0: no bound; "
      "default -1, 8 with --local-checkpoint-dir)")(
      "exchange", enum_value("exchange", kExchanges, &d.exchange),
      "sync: auto (chosen from the links measured at start-up across nodes, said in the role "
      "table; 'sharded' on one node), sharded (optimizer sharded over the ranks), whole (every "
      "rank the whole optimizer, Open MPI's allreduce) or ring (whole, with a ring allreduce)")(
      "bucket-mb",
      auto_or_number(
          "bucket-mb", "a number of MB > 0", [](double v) { return v > 0; }, &d.bucket_mb),
      "sync: allreduce bucket size in MB, or auto (chosen with --exchange; 4 on one node)")(
      "no-shard-optimizer",
      po::bool_switch()->notifier([&d](bool off) { d.shard_optimizer = !off; }),
      "sync: every rank runs the whole optimizer step (default: each rank updates its 1/N slice "
      "of the parameters and keeps optimizer state for it alone, ZeRO-1)")(
      "shared-params", po::bool_switch(&d.shared_params),
      "sync, sharded optimizer, all ranks on one node: one copy of the parameters in shared "
      "memory that each rank updates in place, a barrier instead of the allgather (default: a "
      "copy per rank; on 2 cores neither was clearly faster)")(
      "compress", compress_value(&d),
      "sync: gradients on the wire: none (fp32), fp16 (half the bytes, for slow links; "
      "weights, optimizer and the parameter allgather stay fp32) or auto (fp16 when the "
      "measured links make it faster; changes the arithmetic, so never the default)")(
      "balance", enum_value("balance", kBalances, &d.balance),
      "--shard-by global: off (every rank an even share) or speed (sync: rows of each global "
      "batch in proportion to each rank's measured compute speed, re-measured every 10 steps, "
      "the same rows, so the same model up to float summation order; async: each worker takes "
      "the next worker-batch of the epoch from a shared counter, so a faster one takes more)")(
      "replay-splits", po::value(&d.replay_splits),
      "with --balance speed: follow the row splits this checkpoint recorded, step by step, "
      "instead of measuring (reproduces a balanced run, resumed or not, bit for bit)")(
      "stall-timeout",
      po::value(&d.stall.timeout_seconds)
          ->default_value(d.stall.timeout_seconds)
          ->notifier([](double v) {
            if (!(v > 0)) throw OptionError("--stall-timeout: must be > 0 seconds");
          }),
      "abort the job when a wait on other ranks makes no progress for this many seconds")(
      "threads", po::value(&d.threads)->default_value(d.threads)->notifier(at_least("threads", 0)),
      "compute threads per rank (0: the node's cores divided among its workers)");
  return g;
}

po::options_description output_group(TrainOptions& o) {
  OutputOptions& out = o.output;
  po::options_description g("Output: checkpoints, metrics, summaries, inference and export");
  g.add_options()("mode", enum_value("mode", kModes, &o.mode),
                  "train; inference (predictions of --model on --test-data into --output); "
                  "export (--model checkpoint to --export file)")(
      "model", po::value(&o.model_path),
      "model file or checkpoint to load (--mode inference, export)")(
      "model-dir", po::value(&out.model_dir),
      "directory for checkpoints; training resumes from the newest valid one found there")(
      "checkpoint-steps",
      po::value(&out.checkpoint_steps)
          ->default_value(out.checkpoint_steps)
          ->notifier(at_least<int64_t>("checkpoint-steps", 0)),
      "checkpoint every N steps (0: off)")("checkpoint-secs",
                                           po::value(&out.checkpoint_secs)
                                               ->default_value(out.checkpoint_secs)
                                               ->notifier(at_least<double>("checkpoint-secs", 0)),
                                           "checkpoint every S seconds (0: off)")(
      "keep-checkpoints",
      po::value(&out.keep_checkpoints)
          ->default_value(out.keep_checkpoints)
          ->notifier(at_least("keep-checkpoints", 1)),
      "checkpoints kept in --model-dir")("resume", po::bool_switch(&out.resume),
                                         "require a checkpoint in --model-dir to continue from")(
      "export", po::value(&out.export_path),
      "write the trained model to FILE at the end: ONNX if FILE ends in .onnx, else HDF5")(
      "metrics-json", po::value(&out.metrics_json), "write the final metrics to FILE as JSON")(
      "metrics-csv", po::value(&out.metrics_csv), "append one row per summary step to FILE (CSV)")(
      "log-dir", po::value(&out.log_dir), "write TensorBoard event files here")(
      "timeline", po::value(&out.timeline),
      "write a timeline of every rank's steps to FILE (Chrome trace JSON: chrome://tracing, "
      "Perfetto; scripts/plot_timeline.sh draws it)")(
      "timeline-layers", po::bool_switch(&out.timeline_layers),
      "with --timeline: one span per layer in forward and backward")(
      "summary-steps",
      po::value(&out.summary_steps)
          ->default_value(out.summary_steps)
          ->notifier(at_least<int64_t>("summary-steps", 1)),
      "TensorBoard/CSV summary every N steps")(
      "output", po::value(&out.output_dir), "inference: directory for part-NNNNN prediction files")(
      "output-format", enum_value("output-format", kOutputFormats, &out.output_format),
      "inference output: jsonl or csv")(
      "output-mapping", po::value(&out.output_mapping)->default_value(out.output_mapping),
      "inference fields: any of id, label, prediction, probabilities, features (comma list)");
  return g;
}

po::options_description local_checkpoint_group(OutputOptions& out) {
  po::options_description g(
      "Node-local checkpoints (a lost node costs at most the steps since the last)");
  g.add_options()(
      "local-checkpoint-dir", po::value(&out.local_checkpoint_dir),
      "a directory on every node (/dev/shm/NAME: node memory, or a local disk) for checkpoints "
      "kept there with a copy on a partner node; a job restarted after losing a node resumes "
      "from the newest step they hold whole, else from --model-dir")(
      "local-checkpoint-steps",
      po::value<std::string>()->default_value("auto")->notifier([&out](const std::string& v) {
        if (v == "auto") {
          out.local_checkpoint_steps = 0;
          return;
        }
        std::size_t used = 0;
        long long n = 0;
        try {
          n = std::stoll(v, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != v.size() || n < 1)
          throw OptionError(
              "--local-checkpoint-steps: expected a number of steps >= 1 or auto, got '" + v + "'");
        out.local_checkpoint_steps = n;
      }),
      "a node-local checkpoint every N steps; auto: as often as their measured cost stays within "
      "2% "
      "of the step time");
  return g;
}

std::string value_string(const po::variable_value& v) {
  const auto& a = v.value();
  std::ostringstream s;
  if (auto str = boost::any_cast<std::string>(&a)) return *str;
  if (auto i64 = boost::any_cast<int64_t>(&a)) s << *i64;
  if (auto i = boost::any_cast<int>(&a)) s << *i;
  if (auto f = boost::any_cast<float>(&a)) s << *f;
  if (auto d = boost::any_cast<double>(&a)) s << *d;
  if (auto b = boost::any_cast<bool>(&a)) s << (*b ? "true" : "false");
  if (auto u64 = boost::any_cast<std::uint64_t>(&a)) s << *u64;
  if (auto list = boost::any_cast<std::vector<std::string>>(&a)) {
    for (std::size_t i = 0; i < list->size(); ++i) s << (i ? "," : "") << (*list)[i];
  }
  return s.str();
}

// Parses the command line and --config into vm; false when --help or --version was asked for
// (`help` then holds the text to print).
bool read_command_line(int argc, char** argv, const po::options_description& all,
                       po::variables_map& vm, std::string* help) {
  po::store(po::parse_command_line(argc, argv, all), vm);
  if (vm.count("version")) {
    *help = version_text("mnist_train");
    return false;
  }
  if (vm.count("help")) {
    std::ostringstream s;
    s << all;
    *help = s.str();
    return false;
  }
  if (vm.count("config")) {
    const auto path = vm["config"].as<std::string>();
    std::ifstream in(path);
    if (!in) throw OptionError("--config: cannot open '" + path + "'");
    po::store(po::parse_config_file(in, all), vm);
  }
  po::notify(vm);
  return true;
}

}  // namespace

std::string to_string(RunMode m) {
  return name_of(kModes, m);
}
std::string to_string(OutputFormat f) {
  return name_of(kOutputFormats, f);
}
Format parse_data_format(const std::string& s, const char* option) {
  return choose(option, kAllFormats, s);
}
OptimizerKind parse_optimizer(const std::string& s, const char* option) {
  return choose(option, kOptimizers, s);
}

bool parse_options(int argc, char** argv, TrainOptions* o, std::string* help) {
  data::ShardPolicy shard_by = data::ShardPolicy::kGlobal;
  comm::Mode dist = comm::Mode::kAsync;
  po::options_description general("General");
  general.add_options()("help,h", "print this help")(
      "version", "print the version, the commit and the libraries it runs on")(
      "config", po::value<std::string>(), "read options from FILE (lines 'name = value')");
  po::options_description all(
      "mnist_train: train the MNIST CNN on oneDNN over MPI ranks.\n"
      "Usage: [mpirun -np N] mnist_train [options]");
  all.add(general)
      .add(data_group(o->data, shard_by))
      .add(model_group(o->model))
      .add(training_group(o->training))
      .add(distribution_group(o->dist, dist))
      .add(output_group(*o))
      .add(local_checkpoint_group(o->output));
  po::variables_map vm;
  try {
    if (!read_command_line(argc, argv, all, vm, help)) return false;
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  if (vm.count("shard-by")) o->data.shard_by = shard_by;
  if (vm.count("dist")) o->dist.dist = dist;
  // With the node-local level, a lost worker must stop the others soon: async workers that ran
  // on alone until the launcher noticed would lose all that work in the restore.
  if (!o->output.local_checkpoint_dir.empty() && vm["max-staleness"].defaulted())
    o->dist.max_staleness = kLocalLevelMaxStaleness;
  for (const auto& [name, value] : vm) {
    if (name != "help" && name != "config") o->recorded[name] = value_string(value);
  }
  validate(*o);
  return true;
}

void validate(const TrainOptions& o) {
  const auto& out = o.output;
  const auto& d = o.dist;
  auto refuse = [](const std::string& why) { throw OptionError(why); };
  switch (o.mode) {
    case RunMode::kInference:
      if (o.model_path.empty())
        refuse("--mode inference needs --model FILE (an export or a checkpoint)");
      if (out.output_dir.empty()) refuse("--mode inference needs --output DIR");
      return;
    case RunMode::kExport:
      if (o.model_path.empty() || out.export_path.empty())
        refuse("--mode export needs --model CHECKPOINT and --export FILE");
      return;
    case RunMode::kTrain:
      break;
  }
  if (out.resume && out.model_dir.empty()) refuse("--resume needs --model-dir");
  if (d.shared_params && !d.shard_optimizer)
    refuse("--shared-params needs the sharded optimizer: drop --no-shard-optimizer");
  if (d.exchange == comm::ExchangeKind::kSharded && !d.shard_optimizer)
    refuse("--exchange sharded and --no-shard-optimizer contradict each other: give one");
  if (d.shared_params &&
      (d.exchange == comm::ExchangeKind::kWhole || d.exchange == comm::ExchangeKind::kRing))
    refuse("--shared-params needs the sharded optimizer: drop --exchange " +
           comm::to_string(d.exchange));
  if (d.exchange != comm::ExchangeKind::kAuto && d.dist == comm::Mode::kAsync)
    refuse("--exchange " + comm::to_string(d.exchange) +
           ": chooses how --dist sync reduces gradients; --dist async exchanges through "
           "parameter servers (choose their number with --num-ps, or --num-ps auto)");
  if (d.num_ps == 0 && d.dist == comm::Mode::kSync)
    refuse(
        "--num-ps auto: chooses the parameter servers of --dist async; --dist sync has none "
        "(its choice is --exchange auto, the default)");
  if ((d.compress != comm::Compression::kNone || d.compress_auto) && d.dist == comm::Mode::kAsync)
    refuse("--compress " + (d.compress_auto ? "auto" : comm::to_string(d.compress)) +
           ": compresses the gradient allreduce of --dist sync, not the pushes of --dist async "
           "(MPI_Accumulate has no fp16 type or op)");
  if (!d.replay_splits.empty() && d.balance != Balance::kSpeed)
    refuse("--replay-splits " + d.replay_splits +
           ": replays the splits of --balance speed; add --balance speed");
  if (d.balance == Balance::kSpeed && o.data.shard_by == data::ShardPolicy::kFiles)
    refuse(
        "--balance speed: moves rows of the global batch between ranks, which needs "
        "--shard-by global (with files each rank reads its own files)");
  if (!d.replay_splits.empty() && d.dist == comm::Mode::kAsync)
    refuse("--replay-splits " + d.replay_splits +
           ": replays the row splits of --dist sync; with --dist async, --balance speed takes "
           "the work as it goes");
  if (out.local_checkpoint_steps > 0 && out.local_checkpoint_dir.empty())
    refuse("--local-checkpoint-steps " + std::to_string(out.local_checkpoint_steps) +
           " needs --local-checkpoint-dir DIR (a node-local directory)");
}

}  // namespace dtrain::train
