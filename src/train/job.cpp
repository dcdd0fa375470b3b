#include "dtrain/train/job.h"

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
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/inference.h"
#include "dtrain/train/model_file.h"
#include "dtrain/train/trainer.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"
#include "dtrain/util/signals.h"

namespace dtrain::train {

std::shared_ptr<data::ExampleSource> open_data(const TrainOptions& o, const std::string& paths,
                                               const char* idx_prefix, MPI_Comm comm,
                                               bool collective, bool labels_optional) {
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
  d.labels_optional = labels_optional;
  return data::open_dataset(d);
}

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
              roles.mode == comm::Mode::kAsync
                  ? (", " + std::to_string(roles.num_ps) + " parameter server(s)").c_str()
                  : "");
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
    std::printf("  %-5d %-18s %-16s %-7d %s\n", r, roles.role_name(r).c_str(),
                hosts.data() + 64 * r, all_threads[static_cast<std::size_t>(r)], params.c_str());
  }
  std::printf("transport: %s\n", comm::describe_transport().summary().c_str());
  std::fflush(stdout);
}

struct Job {
  Job(const TrainOptions& options, const comm::MpiEnv& env, comm::Roles r)
      : o(options), mpi(env), roles(r) {}
  const TrainOptions& o;
  const comm::MpiEnv& mpi;
  comm::Roles roles;
  int threads = 1;
  std::unique_ptr<nn::Model> model;
  double wall0 = now_seconds();
  std::optional<TrainingState> resumed;  // the checkpoint this run continues from

  // Finds the newest checkpoint in --model-dir (every rank reads it: it is small and local).
  void load_checkpoint() {
    if (o.model_dir.empty()) {
      if (o.resume) throw OptionError("--resume needs --model-dir");
      return;
    }
    CheckpointDir dir(o.model_dir, o.keep_checkpoints);
    const auto latest = dir.latest();
    if (!latest) {
      if (o.resume) throw OptionError("--resume: no checkpoint (ckpt-*.h5) in " + o.model_dir);
      return;
    }
    const std::string spec = read_model_spec(*latest);
    if (spec != model->spec().text()) {
      throw DataError(*latest + ": the checkpoint holds model '" + spec +
                      "' but this run builds '" + model->spec().text() +
                      "' (--arch); use another --model-dir");
    }
    resumed = read_checkpoint(*latest, model->layout());
    if (mpi.rank() == 0) {
      const auto& m = resumed->meta;
      std::printf("resuming from %s at step %lld (epoch %.2f)\n", latest->c_str(),
                  static_cast<long long>(resumed->global_step), resumed->epoch);
      const bool same = m.value("ranks", -1) == mpi.size() &&
                        m.value("num_ps", -1) == roles.num_ps &&
                        m.value("mode", "") == comm::to_string(roles.mode);
      if (!same) {
        std::printf(
            "note: the checkpoint was written by a %s run on %d ranks (%d server(s)); this run is "
            "%s on %d ranks "
            "(%d server(s)): the state is re-sharded and the continuation is not bit-identical\n",
            m.value("mode", "?").c_str(), m.value("ranks", 0), m.value("num_ps", 0),
            comm::to_string(roles.mode).c_str(), mpi.size(), roles.num_ps);
      }
      std::fflush(stdout);
    }
  }

  TrainingState state_header(int64_t steps, double epoch) const {
    TrainingState s;
    s.global_step = steps;
    s.epoch = epoch;
    s.model = model->spec().text();
    s.optimizer = o.optimizer;
    s.meta = {
        {"mode", comm::to_string(roles.mode)}, {"ranks", mpi.size()}, {"num_ps", roles.num_ps},
        {"workers", roles.num_workers()},      {"seed", o.seed},      {"options", o.recorded}};
    return s;
  }

  // Writes the checkpoint into --model-dir (keeping the newest --keep-checkpoints) and says so.
  void save_checkpoint(const TrainingState& st) const {
    CheckpointDir dir(o.model_dir, o.keep_checkpoints);
    dir.save(model->layout(), st);
    std::printf("checkpoint %s (step %lld)\n", dir.path_for(st.global_step).c_str(),
                static_cast<long long>(st.global_step));
    std::fflush(stdout);
  }

  // Async: the servers step the learning rate by pushes applied, and only the chief's trainer
  // knows how many pushes make a decay period; every rank joins this broadcast from the chief.
  void share_decay_pushes(int64_t& decay_pushes) const {
    std::lock_guard lock(comm::mpi_mutex());
    MPI_Bcast(&decay_pushes, 1, MPI_INT64_T, roles.chief_rank(), MPI_COMM_WORLD);
    MPI_Barrier(MPI_COMM_WORLD);
  }

  // Restores the replica's parameters and the optimizer of a whole-model exchange.
  void restore_replica(nn::Replica& replica, optim::Optimizer* optimizer) const {
    if (!resumed) return;
    std::copy(resumed->params.begin(), resumed->params.end(), replica.params().data());
    if (!optimizer) return;
    if (resumed->optimizer != o.optimizer) {
      if (mpi.rank() == 0)
        std::printf("note: the checkpoint used %s, this run %s: optimizer state starts fresh\n",
                    resumed->optimizer.c_str(), o.optimizer.c_str());
      return;
    }
    for (auto& [name, buffer] : optimizer->state()) {
      for (const auto& [saved, values] : resumed->optimizer_state) {
        if (saved == name) std::copy(values.begin(), values.end(), buffer->data());
      }
    }
    optimizer->set_steps(resumed->optimizer_steps);
  }

  void print_header(const data::ExampleSource& train, const data::ExampleSource& test,
                    const Trainer& trainer) {
    std::printf("model %s\n%s", o.model.c_str(), model->describe().c_str());
    std::printf("parameters:\n%s", model->layout().describe().c_str());
    std::printf("train data: %s (%lld examples)\ntest data: %s (%lld examples)\n",
                train.describe().c_str(), static_cast<long long>(train.size()),
                test.describe().c_str(), static_cast<long long>(test.size()));
    std::printf(
        "training %lld steps per worker (batch %lld %s, %s lr %.2e, decay %.2f per %lld steps)\n",
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
    if (extra.contains("workers_images_per_sec"))
      rate = extra["workers_images_per_sec"].get<double>();
    if (curve.empty()) {
      std::printf("no evaluation (%lld steps, %.0f img/s, wall %.1fs)\n",
                  static_cast<long long>(metrics.steps()), rate, wall);
    } else {
      std::printf(
          "final test accuracy %.2f%%  test loss %.4f  (%lld steps, %.2f epochs, %.0f img/s, wall "
          "%.1fs)\n",
          100.0 * last.test_accuracy, last.test_loss, static_cast<long long>(metrics.steps()),
          last.epoch, rate, wall);
    }
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
                            std::shared_ptr<data::ExampleSource> train,
                            std::shared_ptr<data::ExampleSource> test) {
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

  // Chief-only outputs: TensorBoard events and the metrics CSV.
  std::unique_ptr<SummaryWriter> summaries;
  std::unique_ptr<MetricsCsv> csv;
  void open_summaries(TrainerSetup& s) {
    if (!s.chief) return;
    if (!o.log_dir.empty()) {
      summaries = std::make_unique<SummaryWriter>(o.log_dir);
      s.summaries = summaries.get();
      std::printf("TensorBoard events: %s\n", summaries->path().c_str());
    }
    if (!o.metrics_csv.empty()) {
      csv = std::make_unique<MetricsCsv>(o.metrics_csv, resumed.has_value());
      s.csv = csv.get();
    }
  }

  void export_model(const nn::Replica& replica, const RunMetrics& metrics) const {
    if (o.export_path.empty()) return;
    const double acc = metrics.curve().empty() ? 0.0 : metrics.curve().back().test_accuracy;
    const int64_t last_step = metrics.extra.value("last_step", metrics.steps());
    write_model_file(o.export_path, *model, replica.params().data(), last_step, acc);
    std::printf("exported the model to %s\n", o.export_path.c_str());
    std::fflush(stdout);
  }

  int run_local_or_sync() {
    const bool sync = roles.mode == comm::Mode::kSync;
    if (o.hdf5_collective && !sync && mpi.size() > 1)
      throw OptionError("--hdf5-collective needs --dist sync");
    auto train = open_data(o, o.train_data, "train", MPI_COMM_WORLD, o.hdf5_collective);
    auto test = open_data(o, o.test_data, "t10k", MPI_COMM_SELF, false);
    nn::Replica replica(*model);
    model->init_params(replica.params().span(), o.seed);
    std::unique_ptr<comm::Heartbeat> heartbeat;
    std::unique_ptr<comm::Watchdog> watchdog;
    std::unique_ptr<comm::GradientExchange> exchange;
    auto optimizer = optim::make_optimizer(optimizer_config(o), replica.params().size());
    if (sync) {
      heartbeat = std::make_unique<comm::Heartbeat>(MPI_COMM_WORLD);
      watchdog = std::make_unique<comm::Watchdog>(o.stall_timeout, mpi.rank());
      exchange = std::make_unique<comm::AllreduceExchange>(
          MPI_COMM_WORLD, replica.params().size(), o.bucket_mb, std::move(optimizer),
          comm::StallPolicy(o.stall_timeout, mpi.rank()), heartbeat.get(), watchdog.get());
    } else {
      exchange = std::make_unique<comm::LocalExchange>(std::move(optimizer));
    }
    restore_replica(replica, exchange->optimizer());
    print_roles(roles, mpi, threads, {});
    TrainerSetup s = worker_setup(replica, *exchange, train, test);
    s.shard.policy = data::parse_shard_policy(o.shard_by.empty() ? "global" : o.shard_by);
    if (sync) s.eval_comm = MPI_COMM_WORLD;
    s.start_step = resumed ? resumed->global_step : 0;
    if (s.chief && !o.model_dir.empty()) {
      // Every rank holds the same state: the chief writes it alone.
      s.save_checkpoint = [&](int64_t steps, double epoch) {
        TrainingState st = state_header(steps, epoch);
        st.params.assign(replica.params().data(),
                         replica.params().data() + replica.params().size());
        auto* opt = exchange->optimizer();
        st.optimizer_steps = opt->steps();
        for (auto& [name, buffer] : opt->state())
          st.optimizer_state.emplace_back(
              name, std::vector<float>(buffer->data(), buffer->data() + buffer->size()));
        save_checkpoint(st);
      };
    }
    open_summaries(s);
    Trainer trainer(s);
    if (s.chief) print_header(*train, *test, trainer);
    RunMetrics metrics = trainer.run();
    exchange->finish();
    if (s.chief) {
      report(metrics, exchange->stats());
      export_model(replica, metrics);
    }
    return trainer.stopped_by_signal() ? 143 : 0;
  }

  int run_async() {
    if (o.hdf5_collective)
      throw OptionError(
          "--hdf5-collective needs --dist sync (async workers read at their own pace)");
    const auto shards = comm::split_parameters(model->layout().total(), roles.num_ps);
    comm::PsWindow window(MPI_COMM_WORLD, roles, shards);
    comm::Watchdog watchdog(o.stall_timeout, mpi.rank());
    const comm::StallPolicy stall(o.stall_timeout, mpi.rank());
    print_roles(roles, mpi, threads, shards);
    int64_t decay_pushes = 0;  // filled in by share_decay_pushes()
    if (roles.is_ps()) {
      std::vector<float> init(model->layout().total());
      model->init_params(init, o.seed);
      const auto& shard = shards[static_cast<std::size_t>(roles.rank)];
      if (resumed) init = resumed->params;
      comm::ParameterServer server(window,
                                   std::span<const float>(init.data() + shard.begin, shard.size()),
                                   optimizer_config(o), stall, &watchdog);
      if (resumed && resumed->optimizer == o.optimizer) {
        std::vector<std::pair<std::string, std::vector<float>>> mine;
        for (const auto& [name, values] : resumed->optimizer_state) {
          mine.emplace_back(
              name, std::vector<float>(values.begin() + static_cast<std::ptrdiff_t>(shard.begin),
                                       values.begin() + static_cast<std::ptrdiff_t>(shard.end)));
        }
        server.restore_optimizer(mine, resumed->optimizer_steps);
      }
      share_decay_pushes(decay_pushes);
      const auto stats =
          server.serve(optim::LrSchedule{o.lr, o.lr_decay_rate, decay_pushes, o.lr_staircase});
      std::printf("[rank %d] parameter server done: %s\n", mpi.rank(), stats.dump().c_str());
      std::fflush(stdout);
      return 0;
    }
    auto train = open_data(o, o.train_data, "train", MPI_COMM_SELF, false);
    auto test = open_data(o, o.test_data, "t10k", MPI_COMM_SELF, false);
    nn::Replica replica(*model);
    comm::ParameterServerClient client(window, o.max_staleness, stall, &watchdog);
    TrainerSetup s = worker_setup(replica, client, train, test);
    // Async: --batch-size is each worker's batch; the plan splits an epoch over the workers.
    s.shard.global_batch = o.batch_size * roles.num_workers();
    s.shard.policy = data::parse_shard_policy(o.shard_by.empty() ? "files" : o.shard_by);
    s.count_global_rows = false;
    s.evaluate = s.chief;
    s.evaluate_last = false;
    if (resumed) {
      // Each worker continues from its own step count when the worker count is unchanged.
      const auto& ws = resumed->worker_steps;
      s.start_step = ws.size() == static_cast<std::size_t>(roles.num_workers())
                         ? ws[static_cast<std::size_t>(roles.worker_index())]
                         : resumed->global_step;
      client.set_clock(s.start_step);
    }
    if (s.chief && !o.model_dir.empty()) {
      s.save_checkpoint = [&](int64_t steps, double epoch) {
        TrainingState st = state_header(steps, epoch);
        std::vector<std::string> names;
        {
          auto probe = optim::make_optimizer(optimizer_config(o), 1);
          for (const auto& [name, buffer] : probe->state()) names.push_back(name);
        }
        auto g = client.gather_state(model->layout().total(), names);
        st.params = std::move(g.params);
        st.optimizer_state = std::move(g.optimizer);
        st.optimizer_steps = g.optimizer_steps;
        st.worker_steps = std::move(g.worker_steps);
        st.meta["pushes_applied"] = g.pushes_applied;
        save_checkpoint(st);
      };
      s.extra_scalars = [&] {
        const auto st = client.stats();
        return std::vector<std::pair<std::string, double>>{
            {"staleness", st["staleness_mean"].get<double>()}};
      };
    }
    open_summaries(s);
    Trainer trainer(s);
    decay_pushes = trainer.schedule().decay_steps * roles.num_workers();
    share_decay_pushes(decay_pushes);
    if (s.chief) print_header(*train, *test, trainer);
    RunMetrics metrics = trainer.run();
    client.set_totals(static_cast<double>(metrics.images()), metrics.train_seconds());
    client.finish();
    if (s.chief) {
      client.pull_final(replica.params().data());
      trainer.evaluate_now(s.start_step + metrics.steps(), metrics);
      auto extra = client.stats();
      const auto everyone = client.all_workers_stats();
      for (const auto& [k, v] : everyone.items()) extra[k] = v;
      report(metrics, extra);
      export_model(replica, metrics);
    }
    return trainer.stopped_by_signal() ? 143 : 0;
  }
};

}  // namespace

int run_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  if (o.mode == "inference") return run_inference(o, mpi);
  if (o.mode == "export") return run_export(o, mpi);
  Job job(o, mpi, comm::Roles::decide(mpi.rank(), mpi.size(), o.dist, o.num_ps));
  if (o.train_data.empty() != o.test_data.empty()) {
    throw OptionError(
        "--train-data and --test-data go together (or neither, for IDX in --data-dir)");
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
  use_compute_threads(job.threads);
  // Every rank builds the model (cheap): servers need its layout, workers its layers. The data
  // decides the input shape; the MNIST shape is assumed until the data is open.
  job.model = std::make_unique<nn::Model>(nn::ModelSpec::parse(o.model), nn::Shape{1, 28, 28},
                                          o.num_classes);
  install_signal_handlers();
  job.load_checkpoint();
  return job.roles.mode == comm::Mode::kAsync ? job.run_async() : job.run_local_or_sync();
}

}  // namespace dtrain::train
