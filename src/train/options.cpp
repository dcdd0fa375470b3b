#include "dtrain/train/options.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "dtrain/util/error.h"

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

auto one_of(const char* name, std::vector<std::string> allowed) {
  return [name, allowed](const std::string& v) {
    for (const auto& a : allowed) {
      if (v == a) return;
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw OptionError(std::string("--") + name + ": '" + v + "' is not allowed (expected one of " +
                      list + ")");
  };
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

}  // namespace

bool parse_options(int argc, char** argv, TrainOptions* o, std::string* help) {
  po::options_description data("Data");
  data.add_options()(
      "data-dir", po::value(&o->data_dir)->default_value(o->data_dir),
      "directory with the MNIST IDX files (raw or .gz); used when --train-data is not given")(
      "train-data", po::value(&o->train_data),
      "training set: a file, directory, glob or comma-separated list of HDF5/TFRecord shards")(
      "test-data", po::value(&o->test_data), "test set, same forms as --train-data")(
      "format",
      po::value(&o->format)
          ->default_value(o->format)
          ->notifier(one_of("format", {"auto", "idx", "hdf5", "tfrecord"})),
      "data format: auto (detected from the files), idx, hdf5 or tfrecord")(
      "features", po::value(&o->features),
      "TFRecord feature names, e.g. image=image_raw,label=label (default image=image,label=label)")(
      "io-hint", po::value(&o->io_hints)->composing(),
      "MPI-IO hint KEY=VALUE for HDF5 files, repeatable (e.g. striping_factor=8)")(
      "hdf5-collective", po::bool_switch(&o->hdf5_collective),
      "collective MPI-IO reads (sync mode)")(
      "skip-corrupt", po::bool_switch(&o->skip_corrupt),
      "skip corrupt TFRecord records (counted and reported) instead of failing")(
      "num-classes",
      po::value(&o->num_classes)
          ->default_value(o->num_classes)
          ->notifier(at_least("num-classes", 2)),
      "number of label classes")(
      "shard-by", po::value(&o->shard_by)->notifier(one_of("shard-by", {"global", "files"})),
      "how the epoch is split over workers: global (one permutation, rank-independent batches; "
      "default for sync) or files (files/record ranges per worker; default for async)")(
      "shuffle-buffer",
      po::value(&o->shuffle_buffer)
          ->default_value(o->shuffle_buffer)
          ->notifier(at_least<int64_t>("shuffle-buffer", 1)),
      "shuffle buffer size (--shard-by files)")(
      "prefetch",
      po::value(&o->prefetch)->default_value(o->prefetch)->notifier(at_least("prefetch", 1)),
      "batches read ahead by the background reader");

  po::options_description model("Model and optimisation");
  model.add_options()(
      "arch", po::value(&o->model)->default_value(o->model),
      "network: a preset (cnn, mlp) or a layer list, e.g. conv:5:32:relu,maxpool:2,dense:10")(
      "batch-size",
      po::value(&o->batch_size)
          ->default_value(o->batch_size)
          ->notifier(at_least<int64_t>("batch-size", 1)),
      "global batch size (split over the workers in sync mode)")(
      "epochs",
      po::value(&o->epochs)->default_value(o->epochs)->notifier(at_least<int64_t>("epochs", 1)),
      "passes over the training set")(
      "steps",
      po::value(&o->steps)->default_value(o->steps)->notifier(at_least<int64_t>("steps", 0)),
      "train this many steps instead (0: use --epochs)")(
      "lr", po::value(&o->lr)->default_value(o->lr, shown(o->lr))->notifier([](float v) {
        if (!(v > 0.f)) throw OptionError("--lr: must be > 0");
      }),
      "learning rate")("lr-decay-rate",
                       po::value(&o->lr_decay_rate)
                           ->default_value(o->lr_decay_rate, shown(o->lr_decay_rate))
                           ->notifier([](float v) {
                             if (!(v > 0.f && v <= 1.f))
                               throw OptionError("--lr-decay-rate: must be in (0, 1]");
                           }),
                       "exponential decay: lr * rate^(step / decay-steps)")(
      "lr-decay-steps",
      po::value(&o->lr_decay_steps)
          ->default_value(o->lr_decay_steps)
          ->notifier(at_least<int64_t>("lr-decay-steps", 0)),
      "decay period in steps (0: one epoch)")("lr-staircase", po::bool_switch(&o->lr_staircase),
                                              "decay in whole periods")(
      "optimizer",
      po::value(&o->optimizer)
          ->default_value(o->optimizer)
          ->notifier(one_of("optimizer", {"adam", "sgd"})),
      "adam or sgd (with momentum)")(
      "momentum", po::value(&o->momentum)->default_value(o->momentum, shown(o->momentum)),
      "SGD momentum")("nesterov", po::bool_switch(&o->nesterov), "SGD: Nesterov momentum")(
      "weight-decay",
      po::value(&o->weight_decay)->default_value(o->weight_decay, shown(o->weight_decay)),
      "L2 weight decay")("seed", po::value(&o->seed)->default_value(o->seed),
                         "seed for initial weights, data order and dropout");

  po::options_description run("Execution and reporting");
  run.add_options()("help,h", "print this help")("config", po::value<std::string>(),
                                                 "read options from FILE (lines 'name = value')")(
      "threads",
      po::value(&o->threads)->default_value(o->threads)->notifier(at_least("threads", 0)),
      "compute threads per rank (0: the node's cores divided among its ranks)")(
      "eval-every",
      po::value(&o->eval_every)
          ->default_value(o->eval_every)
          ->notifier(at_least<int64_t>("eval-every", 0)),
      "evaluate on the test set every N steps (0: every epoch)")(
      "eval-batch-size",
      po::value(&o->eval_batch_size)
          ->default_value(o->eval_batch_size)
          ->notifier(at_least<int64_t>("eval-batch-size", 1)),
      "batch size for evaluation")("log-every",
                                   po::value(&o->log_every)
                                       ->default_value(o->log_every)
                                       ->notifier(at_least<int64_t>("log-every", 1)),
                                   "progress line every N steps")(
      "metrics-json", po::value(&o->metrics_json), "write the final metrics to FILE as JSON");

  po::options_description ckpt("Checkpoints, summaries, inference and export");
  ckpt.add_options()("mode",
                     po::value(&o->mode)->default_value(o->mode)->notifier(
                         one_of("mode", {"train", "inference", "export"})),
                     "train; inference (predictions of --model on --test-data into --output); "
                     "export (--model checkpoint to --export file)")(
      "model", po::value(&o->model_path),
      "model file or checkpoint to load (--mode inference, export)")(
      "model-dir", po::value(&o->model_dir),
      "directory for checkpoints; training resumes from the newest one found there")(
      "checkpoint-steps",
      po::value(&o->checkpoint_steps)
          ->default_value(o->checkpoint_steps)
          ->notifier(at_least<int64_t>("checkpoint-steps", 0)),
      "checkpoint every N steps (0: off)")("checkpoint-secs",
                                           po::value(&o->checkpoint_secs)
                                               ->default_value(o->checkpoint_secs)
                                               ->notifier(at_least<double>("checkpoint-secs", 0)),
                                           "checkpoint every S seconds (0: off)")(
      "keep-checkpoints",
      po::value(&o->keep_checkpoints)
          ->default_value(o->keep_checkpoints)
          ->notifier(at_least("keep-checkpoints", 1)),
      "checkpoints kept in --model-dir")("resume", po::bool_switch(&o->resume),
                                         "require a checkpoint in --model-dir to continue from")(
      "export", po::value(&o->export_path), "write the trained model to FILE (HDF5) at the end")(
      "output", po::value(&o->output_dir), "inference: directory for part-NNNNN prediction files")(
      "output-format",
      po::value(&o->output_format)
          ->default_value(o->output_format)
          ->notifier(one_of("output-format", {"jsonl", "csv"})),
      "inference output: jsonl or csv")(
      "output-mapping", po::value(&o->output_mapping)->default_value(o->output_mapping),
      "inference fields: any of id, label, prediction, probabilities, features (comma list)")(
      "log-dir", po::value(&o->log_dir), "write TensorBoard event files here")(
      "summary-steps",
      po::value(&o->summary_steps)
          ->default_value(o->summary_steps)
          ->notifier(at_least<int64_t>("summary-steps", 1)),
      "TensorBoard/CSV summary every N steps")("metrics-csv", po::value(&o->metrics_csv),
                                               "append one row per summary step to FILE (CSV)");

  po::options_description dist("Distribution");
  dist.add_options()(
      "dist", po::value(&o->dist)->notifier(one_of("dist", {"async", "sync"})),
      "async (parameter servers + workers) or sync (allreduce); default async for > 1 rank")(
      "num-ps", po::value(&o->num_ps)->default_value(o->num_ps)->notifier(at_least("num-ps", 1)),
      "parameter-server ranks in async mode")(
      "max-staleness", po::value(&o->max_staleness)->default_value(o->max_staleness),
      "async: a worker waits while its weights are more than S versions behind (< 0: no bound)")(
      "bucket-mb", po::value(&o->bucket_mb)->default_value(o->bucket_mb)->notifier([](double v) {
        if (!(v > 0)) throw OptionError("--bucket-mb: must be > 0");
      }),
      "sync: allreduce bucket size in MB")(
      "stall-timeout",
      po::value(&o->stall_timeout)->default_value(o->stall_timeout)->notifier([](double v) {
        if (!(v > 0)) throw OptionError("--stall-timeout: must be > 0 seconds");
      }),
      "abort the job when a wait on other ranks makes no progress for this many seconds");

  po::options_description all(
      "mnist_train: train the MNIST CNN on oneDNN over MPI ranks.\n"
      "Usage: [mpirun -np N] mnist_train [options]");
  all.add(data).add(model).add(run).add(ckpt).add(dist);

  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
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
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  for (const auto& [name, value] : vm) {
    if (name != "help" && name != "config") o->recorded[name] = value_string(value);
  }
  return true;
}

}  // namespace dtrain::train
