#include "dtrain/train/job.h"

#include <omp.h>
#include <sched.h>

#include <cstdio>

#include "dtrain/data/dataset.h"
#include "dtrain/data/memory_source.h"
#include "dtrain/nn/model.h"
#include "dtrain/train/trainer.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"

namespace dtrain::train {

int compute_threads(int requested, int local_ranks) {
  if (requested > 0) return requested;
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  // A rank bound to one core sees only that core: do not divide it further.
  if (cores >= local_ranks) cores /= local_ranks;
  return std::max(1, cores);
}

namespace {

// --train-data / --test-data when given, else the IDX files in --data-dir.
std::shared_ptr<data::ExampleSource> open_split(const TrainOptions& o, const std::string& paths,
                                                const char* idx_prefix, MPI_Comm comm,
                                                bool collective) {
  if (paths.empty()) return data::MemorySource::from_idx_dir(o.data_dir, idx_prefix);
  data::DatasetOptions d;
  d.paths = paths;
  d.format = o.format;
  d.features = o.features;
  d.num_classes = o.num_classes;
  d.skip_corrupt = o.skip_corrupt;
  d.io_hints = o.io_hints;
  d.collective = collective;
  d.comm = comm;
  return data::open_dataset(d);
}

}  // namespace

int run_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  const double wall0 = now_seconds();
  const int threads = compute_threads(o.threads, mpi.local_size());
  omp_set_num_threads(threads);
  const bool chief = mpi.rank() == 0;

  if (o.train_data.empty() != o.test_data.empty()) {
    throw OptionError("--train-data and --test-data go together (or neither, for IDX in --data-dir)");
  }
  auto train_data = open_split(o, o.train_data, "train", MPI_COMM_SELF, false);
  auto test_data = open_split(o, o.test_data, "t10k", MPI_COMM_SELF, false);
  const auto shape = train_data->image_shape();
  if (!(test_data->image_shape() == shape)) throw DataError("training and test images differ in shape");
  const nn::Model model(nn::ModelSpec::parse(o.model), nn::Shape{shape.c, shape.h, shape.w},
                        o.num_classes);
  nn::Replica replica(model);
  model.init_params(replica.params().span(), o.seed);

  optim::OptimizerConfig oc;
  oc.name = o.optimizer;
  oc.momentum = o.momentum;
  oc.nesterov = o.nesterov;
  oc.weight_decay = o.weight_decay;
  comm::LocalExchange exchange(optim::make_optimizer(oc, replica.params().size()));

  if (chief) {
    std::printf("dtrain mnist_train: %d rank(s), %d thread(s) per rank\n", mpi.size(), threads);
    std::printf("model %s\n%s", o.model.c_str(), model.describe().c_str());
    std::printf("parameters:\n%s", model.layout().describe().c_str());
    std::printf("train data: %s (%lld examples)\ntest data: %s (%lld examples)\n",
                train_data->describe().c_str(), static_cast<long long>(train_data->size()),
                test_data->describe().c_str(), static_cast<long long>(test_data->size()));
    std::fflush(stdout);
  }

  TrainerSetup setup;
  setup.options = &o;
  setup.replica = &replica;
  setup.exchange = &exchange;
  setup.train_data = train_data;
  setup.test_data = test_data;
  setup.shard.policy = data::parse_shard_policy(o.shard_by.empty() ? "global" : o.shard_by);
  setup.shard.workers = 1;
  setup.shard.global_batch = o.batch_size;
  setup.shard.seed = o.seed;
  setup.shard.shuffle_buffer = o.shuffle_buffer;
  setup.chief = chief;
  Trainer trainer(setup);
  if (chief) {
    std::printf("training %lld steps (batch %lld, %s lr %.2e)\n",
                static_cast<long long>(trainer.total_steps()), static_cast<long long>(o.batch_size),
                o.optimizer.c_str(), static_cast<double>(o.lr));
    std::fflush(stdout);
  }
  RunMetrics metrics = trainer.run();

  if (chief) {
    const auto& curve = metrics.curve();
    const AccuracyPoint final_eval = curve.empty() ? AccuracyPoint{} : curve.back();
    const double wall = now_seconds() - wall0;
    std::printf("final test accuracy %.2f%%  test loss %.4f  (%lld steps, %.1f epochs, "
                "%.0f img/s, wall %.1fs)\n",
                100.0 * final_eval.test_accuracy, final_eval.test_loss,
                static_cast<long long>(metrics.steps()), final_eval.epoch,
                metrics.steady_images_per_sec(), wall);
    if (!o.metrics_json.empty()) {
      auto j = metrics.to_json();
      j["test_accuracy"] = final_eval.test_accuracy;
      j["test_loss"] = final_eval.test_loss;
      j["wall_seconds"] = wall;
      j["mode"] = "local";
      j["ranks"] = mpi.size();
      j["threads"] = threads;
      j["model"] = model.spec().text();
      j["parameters"] = model.layout().parameter_count();
      j["forward_flops_per_image"] = 2 * model.forward_macs();
      j["options"] = o.recorded;
      write_json_file(o.metrics_json, j);
    }
  }
  return 0;
}

}  // namespace dtrain::train
