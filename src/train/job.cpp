#include "dtrain/train/job.h"

#include <omp.h>
#include <sched.h>

#include <cstdio>
#include <cstring>

#include "dtrain/comm/allreduce_exchange.h"
#include "dtrain/comm/heartbeat.h"
#include "dtrain/comm/parameter_server.h"
#include "dtrain/comm/parameter_shard.h"
#include "dtrain/comm/ps_client.h"
#include "dtrain/comm/roles.h"
#include "dtrain/comm/transport.h"
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
                                                const char* idx_prefix, MPI_Comm comm, bool collective) {
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

optim::OptimizerConfig optimizer_config(const TrainOptions& o) {
  optim::OptimizerConfig oc;
  oc.name = o.optimizer;
  oc.momentum = o.momentum;
  oc.nesterov = o.nesterov;
  oc.weight_decay = o.weight_decay;
  return oc;
}

// Rank 0 prints rank -> role -> host (and each server's parameter range) and the transport.
void print_roles(const comm::Roles& roles, const comm::MpiEnv& mpi, int threads,
                 const std::vector<nn::ParamRange>& shards) {
  char host[64] = {};
  std::strncpy(host, mpi.host().c_str(), sizeof host - 1);
  std::vector<char> hosts(static_cast<std::size_t>(64 * mpi.size()));
  std::vector<int> all_threads(static_cast<std::size_t>(mpi.size()));
  {
    std::lock_guard lock(comm::mpi_mutex());
    MPI_Gather(host, 64, MPI_CHAR, hosts.data(), 64, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(&threads, 1, MPI_INT, all_threads.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  }
  if (mpi.rank() != 0) return;
  std::printf("dtrain: %d ranks, mode %s%s\n", mpi.size(), comm::to_string(roles.mode).c_str(),
              roles.mode == comm::Mode::kAsync ? (", " + std::to_string(roles.num_ps) + " parameter server(s)").c_str() : "");
  std::printf("  %-5s %-18s %-16s %-7s %s\n", "rank", "role", "host", "threads", "parameters");
  for (int r = 0; r < mpi.size(); ++r) {
    std::string params = "-";
    if (roles.mode == comm::Mode::kAsync && r < roles.num_ps) {
      const auto& s = shards[static_cast<std::size_t>(r)];
      char buf[96];
      std::snprintf(buf, sizeof buf, "[%zu, %zu) = %zu floats (%.2f MB)", s.begin, s.end, s.size(),
                    static_cast<double>(s.size()) * 4 / 1e6);
      params = buf;
    } else if (roles.mode != comm::Mode::kAsync) {
      params = "full replica";
    }
    std::printf("  %-5d %-18s %-16s %-7d %s\n", r, roles.role_name(r).c_str(), hosts.data() + 64 * r,
                all_threads[static_cast<std::size_t>(r)], params.c_str());
  }
  std::printf("transport: %s\n", comm::describe_transport().summary().c_str());
  std::fflush(stdout);
}

struct Job {
  const TrainOptions& o;
  const comm::MpiEnv& mpi;
  comm::Roles roles;
  int threads = 1;
  std::unique_ptr<nn::Model> model;
  double wall0 = now_seconds();

  void print_header(const data::ExampleSource& train, const data::ExampleSource& test, const Trainer& trainer) {
    std::printf("model %s\n%s", o.model.c_str(), model->describe().c_str());
    std::printf("parameters:\n%s", model->layout().describe().c_str());
    std::printf("train data: %s (%lld examples)\ntest data: %s (%lld examples)\n", train.describe().c_str(),
                static_cast<long long>(train.size()), test.describe().c_str(), static_cast<long long>(test.size()));
    std::printf("training %lld steps per worker (batch %lld %s, %s lr %.2e, decay %.2f per %lld steps)\n",
                static_cast<long long>(trainer.total_steps()), static_cast<long long>(o.batch_size),
                roles.mode == comm::Mode::kAsync ? "per worker" : "global", o.optimizer.c_str(),
                static_cast<double>(o.lr), static_cast<double>(o.lr_decay_rate),
                static_cast<long long>(trainer.schedule().decay_steps));
    std::fflush(stdout);
  }

  void report(RunMetrics& metrics, const nlohmann::json& extra) {
    const auto& curve = metrics.curve();
    const AccuracyPoint last = curve.empty() ? AccuracyPoint{} : curve.back();
    const double wall = now_seconds() - wall0;
    double rate = metrics.steady_images_per_sec();
    if (extra.contains("workers_images_per_sec")) rate = extra["workers_images_per_sec"].get<double>();
    std::printf("final test accuracy %.2f%%  test loss %.4f  (%lld steps, %.2f epochs, %.0f img/s, wall %.1fs)\n",
                100.0 * last.test_accuracy, last.test_loss, static_cast<long long>(metrics.steps()), last.epoch,
                rate, wall);
    if (extra.contains("staleness_mean")) {
      std::printf("staleness (server versions between pull and push): mean %.2f, max %.0f\n",
                  extra["staleness_mean"].get<double>(), extra["staleness_max"].get<double>());
    }
    std::fflush(stdout);
    if (o.metrics_json.empty()) return;
    auto j = metrics.to_json();
    for (const auto& [k, v] : extra.items()) j[k] = v;
    j["test_accuracy"] = last.test_accuracy;
    j["test_loss"] = last.test_loss;
    j["epochs"] = last.epoch;
    j["train_images_per_sec"] = rate;
    j["wall_seconds"] = wall;
    j["mode"] = comm::to_string(roles.mode);
    j["ranks"] = mpi.size();
    j["num_ps"] = roles.num_ps;
    j["workers"] = roles.num_workers();
    j["threads"] = threads;
    j["model"] = model->spec().text();
    j["parameters"] = model->layout().parameter_count();
    j["forward_flops_per_image"] = 2 * model->forward_macs();
    j["options"] = o.recorded;
    j["transport"] = comm::describe_transport().summary();
    write_json_file(o.metrics_json, j);
  }

  TrainerSetup worker_setup(nn::Replica& replica, comm::GradientExchange& exchange,
                            std::shared_ptr<data::ExampleSource> train, std::shared_ptr<data::ExampleSource> test) {
    TrainerSetup s;
    s.options = &o;
    s.replica = &replica;
    s.exchange = &exchange;
    s.train_data = std::move(train);
    s.test_data = std::move(test);
    s.shard.workers = roles.num_workers();
    s.shard.global_batch = o.batch_size;
    s.shard.seed = o.seed;
    s.shard.shuffle_buffer = o.shuffle_buffer;
    s.worker = roles.worker_index();
    s.chief = roles.is_chief();
    return s;
  }

  int run_local_or_sync() {
    const bool sync = roles.mode == comm::Mode::kSync;
    if (o.hdf5_collective && !sync && mpi.size() > 1) throw OptionError("--hdf5-collective needs --dist sync");
    auto train = open_split(o, o.train_data, "train", MPI_COMM_WORLD, o.hdf5_collective);
    auto test = open_split(o, o.test_data, "t10k", MPI_COMM_SELF, false);
    nn::Replica replica(*model);
    model->init_params(replica.params().span(), o.seed);
    std::unique_ptr<comm::Heartbeat> heartbeat;
    std::unique_ptr<comm::GradientExchange> exchange;
    auto optimizer = optim::make_optimizer(optimizer_config(o), replica.params().size());
    if (sync) {
      heartbeat = std::make_unique<comm::Heartbeat>(MPI_COMM_WORLD);
      exchange = std::make_unique<comm::AllreduceExchange>(MPI_COMM_WORLD, replica.params().size(), o.bucket_mb,
                                                           std::move(optimizer), comm::StallPolicy(o.stall_timeout, mpi.rank()),
                                                           heartbeat.get());
    } else {
      exchange = std::make_unique<comm::LocalExchange>(std::move(optimizer));
    }
    print_roles(roles, mpi, threads, {});
    TrainerSetup s = worker_setup(replica, *exchange, train, test);
    s.shard.policy = data::parse_shard_policy(o.shard_by.empty() ? "global" : o.shard_by);
    if (sync) s.eval_comm = MPI_COMM_WORLD;
    Trainer trainer(s);
    if (s.chief) print_header(*train, *test, trainer);
    RunMetrics metrics = trainer.run();
    exchange->finish();
    if (s.chief) report(metrics, exchange->stats());
    return 0;
  }

  int run_async() {
    if (o.hdf5_collective) throw OptionError("--hdf5-collective needs --dist sync (async workers read at their own pace)");
    const auto shards = comm::split_parameters(model->layout().total(), roles.num_ps);
    comm::PsWindow window(MPI_COMM_WORLD, roles, shards);
    comm::Watchdog watchdog(o.stall_timeout, mpi.rank());
    const comm::StallPolicy stall(o.stall_timeout, mpi.rank());
    print_roles(roles, mpi, threads, shards);
    // The servers step the learning rate by pushes applied; the chief knows how many make an epoch.
    int64_t decay_pushes = 0;
    if (roles.is_ps()) {
      std::vector<float> init(model->layout().total());
      model->init_params(init, o.seed);
      const auto& shard = shards[static_cast<std::size_t>(roles.rank)];
      comm::ParameterServer server(window, std::span<const float>(init.data() + shard.begin, shard.size()),
                                   optimizer_config(o), stall, &watchdog);
      {
        std::lock_guard lock(comm::mpi_mutex());
        MPI_Bcast(&decay_pushes, 1, MPI_INT64_T, roles.chief_rank(), MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
      }
      const auto stats = server.serve(optim::LrSchedule{o.lr, o.lr_decay_rate, decay_pushes, o.lr_staircase});
      std::printf("[rank %d] parameter server done: %s\n", mpi.rank(), stats.dump().c_str());
      std::fflush(stdout);
      return 0;
    }
    auto train = open_split(o, o.train_data, "train", MPI_COMM_SELF, false);
    auto test = open_split(o, o.test_data, "t10k", MPI_COMM_SELF, false);
    nn::Replica replica(*model);
    comm::ParameterServerClient client(window, o.max_staleness, stall, &watchdog);
    TrainerSetup s = worker_setup(replica, client, train, test);
    // Async: --batch-size is each worker's batch; the plan splits an epoch over the workers.
    s.shard.global_batch = o.batch_size * roles.num_workers();
    s.shard.policy = data::parse_shard_policy(o.shard_by.empty() ? "files" : o.shard_by);
    s.count_global_rows = false;
    s.evaluate = s.chief;
    s.evaluate_last = false;
    Trainer trainer(s);
    decay_pushes = trainer.schedule().decay_steps * roles.num_workers();
    {
      std::lock_guard lock(comm::mpi_mutex());
      MPI_Bcast(&decay_pushes, 1, MPI_INT64_T, roles.chief_rank(), MPI_COMM_WORLD);
      MPI_Barrier(MPI_COMM_WORLD);
    }
    if (s.chief) print_header(*train, *test, trainer);
    RunMetrics metrics = trainer.run();
    client.set_totals(static_cast<double>(metrics.images()), metrics.train_seconds());
    client.finish();
    if (s.chief) {
      client.pull_final(replica.params().data());
      trainer.evaluate_now(metrics.steps(), metrics);
      auto extra = client.stats();
      const auto everyone = client.all_workers_stats();
      for (const auto& [k, v] : everyone.items()) extra[k] = v;
      report(metrics, extra);
    }
    return 0;
  }
};

}  // namespace

int run_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  Job job{o, mpi, comm::Roles::decide(mpi.rank(), mpi.size(), o.dist, o.num_ps), 1, nullptr, now_seconds()};
  if (o.train_data.empty() != o.test_data.empty()) {
    throw OptionError("--train-data and --test-data go together (or neither, for IDX in --data-dir)");
  }
  // Compute threads: the node's cores shared by the workers on it (servers mostly sleep).
  int local_workers = 1;
  {
    std::lock_guard lock(comm::mpi_mutex());
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, mpi.rank(), MPI_INFO_NULL, &node);
    const int worker = job.roles.is_worker() ? 1 : 0;
    MPI_Allreduce(&worker, &local_workers, 1, MPI_INT, MPI_SUM, node);
    MPI_Comm_free(&node);
  }
  job.threads = job.roles.is_ps() ? 1 : compute_threads(o.threads, std::max(1, local_workers));
  omp_set_num_threads(job.threads);
  // Every rank builds the model (cheap): servers need its layout, workers its layers. The data
  // decides the input shape; the MNIST shape is assumed until the data is open.
  job.model = std::make_unique<nn::Model>(nn::ModelSpec::parse(o.model), nn::Shape{1, 28, 28}, o.num_classes);
  return job.roles.mode == comm::Mode::kAsync ? job.run_async() : job.run_local_or_sync();
}

}  // namespace dtrain::train
