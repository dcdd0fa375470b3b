#include "train/job_context.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "comm/consensus.h"
#include "comm/stall.h"
#include "data/memory_source.h"
#include "dtrain/data/dataset.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"
#include "train/local_start.h"
#include "train/row_balance.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/signals.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace fs = std::filesystem;

namespace {

// Runs a start-up step and returns its error text instead of throwing it.
template <typename Fn>
std::optional<std::string> attempt(Fn&& fn) {
  try {
    fn();
    return std::nullopt;
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
}

// All ranks learn the first failure; then every rank throws it.
void verdict(const std::optional<std::string>& mine, JobContext& ctx) {
  comm::Watchdog::Scope guard(ctx.watchdog.get(), "the start-up checks of every rank");
  if (auto error = comm::first_error(mine, MPI_COMM_WORLD)) throw StartupError(*error);
}

void check_same_options(const JobContext& ctx) {
  std::string all;
  for (const auto& [k, v] : ctx.options.recorded) all += k + "=" + v + "\n";
  const auto differ = comm::ranks_differing(comm::fnv1a(all), MPI_COMM_WORLD);
  if (differ.empty()) return;
  std::vector<int> ranks(differ.begin(), differ.end());
  throw OptionError("rank(s) " + comm::rank_list(ranks) +
                    " started with other options than rank 0 (an MPMD command line?); every "
                    "rank must get the same options");
}

// Test hook: DTRAIN_TEST_DELAY_OPEN=RANK:SECONDS makes one rank slow to open its data, as a
// slow shared file system does.
void injected_open_delay(int rank) {
  const char* spec = std::getenv("DTRAIN_TEST_DELAY_OPEN");
  int who = -1;
  double seconds = 0;
  if (spec && std::sscanf(spec, "%d:%lf", &who, &seconds) == 2 && who == rank)
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

void open_worker_data(JobContext& ctx) {
  const auto& d = ctx.options.data;
  if (d.train_data.empty() != d.test_data.empty()) {
    throw OptionError(
        "--train-data and --test-data go together (or neither, for IDX in --data-dir)");
  }
  injected_open_delay(ctx.mpi.rank());
  ctx.train = open_data(ctx.options, d.train_data, "train");
  ctx.test = open_data(ctx.options, d.test_data, "t10k");
  const auto a = ctx.train->image_shape(), b = ctx.test->image_shape();
  if (!(a == b)) {
    throw DataError("the test data " + ctx.test->describe() + " holds " + b.str() +
                    " images but the training data " + ctx.train->describe() + " holds " + a.str() +
                    "; they must match");
  }
}

// A directory this job will write to must exist (or be creatable) and take a new file.
void check_writable(const std::string& option, const std::string& dir) {
  const std::string d = dir.empty() ? "." : dir;
  std::error_code ec;
  fs::create_directories(d, ec);
  if (ec) throw OptionError(option + " " + d + ": cannot create the directory: " + ec.message());
  const std::string probe = (fs::path(d) / (".dtrain-probe-" + std::to_string(getpid()))).string();
  std::FILE* f = std::fopen(probe.c_str(), "w");
  if (!f) {
    throw OptionError(option + " " + d + ": cannot write there: " +
                      std::error_code(errno, std::generic_category()).message());
  }
  std::fclose(f);
  fs::remove(probe, ec);
}

void check_outputs(const TrainOptions& o) {
  const auto& out = o.output;
  if (!out.model_dir.empty()) check_writable("--model-dir", out.model_dir);
  if (!out.log_dir.empty()) check_writable("--log-dir", out.log_dir);
  for (const auto& [option, file] : {std::pair{"--metrics-json", out.metrics_json},
                                     {"--metrics-csv", out.metrics_csv},
                                     {"--timeline", out.timeline},
                                     {"--export", out.export_path}}) {
    if (!file.empty()) check_writable(option, fs::path(file).parent_path().string());
  }
}

nn::Model* build_model(JobContext& ctx, const data::ImageShape& in) {
  ctx.model =
      std::make_unique<nn::Model>(nn::ModelSpec::parse(ctx.options.model.arch),
                                  nn::Shape{in.c, in.h, in.w}, ctx.options.data.num_classes);
  return ctx.model.get();
}

// Chief: the newest checkpoint in --model-dir that reads back whole and fits this run. Damaged
// ones are passed over with a warning; one of another model is refused.
std::string choose_checkpoint(const JobContext& ctx) {
  const auto& out = ctx.options.output;
  if (out.model_dir.empty()) return "";  // and no --resume: validate() refuses that
  const auto files = CheckpointDir(out.model_dir, out.keep_checkpoints).list();
  if (files.empty()) {
    if (out.resume) throw OptionError("--resume: no checkpoint (ckpt-*.h5) in " + out.model_dir);
    return "";
  }
  std::string reasons;
  for (auto it = files.rbegin(); it != files.rend(); ++it) {
    try {
      const std::string spec = read_model_spec(*it);
      const data::ImageShape in = read_input_shape(*it);
      const auto& m = *ctx.model;
      const nn::Shape want = m.input_shape();
      if (spec != m.spec().text() || in.c != want.c || in.h != want.h || in.w != want.w) {
        throw OptionError(*it + ": the checkpoint holds model '" + spec + "' on " + in.str() +
                          " images but this run builds '" + m.spec().text() + "' on " +
                          data::ImageShape{want.c, want.h, want.w}.str() +
                          " images (--arch, data); use another --model-dir");
      }
      const TrainingState s = read_checkpoint(*it, m.layout());
      if (s.global_step > ctx.facts.total_steps) {
        throw OptionError(*it + ": the checkpoint is at step " + std::to_string(s.global_step) +
                          ", past the " + std::to_string(ctx.facts.total_steps) +
                          " steps this run trains for (raise --epochs or --steps)");
      }
      return *it;
    } catch (const DataError& e) {
      std::fprintf(stderr, "warning: %s; falling back to an older checkpoint\n", e.what());
      reasons += std::string(reasons.empty() ? "" : "; ") + e.what();
    }
  }
  throw DataError("--model-dir " + out.model_dir + ": no valid checkpoint among " +
                  std::to_string(files.size()) + " file(s): " + reasons);
}

// --balance speed under the default --dist: one process has nobody to share with, and only
// a sync run has row splits to replay.
void check_balance(const TrainOptions& o, comm::Mode mode) {
  if (o.dist.balance == Balance::kSpeed && mode == comm::Mode::kLocal)
    throw OptionError("--balance speed: shares the work of several ranks; this run is one process");
  if (!o.dist.replay_splits.empty() && mode != comm::Mode::kSync)
    throw OptionError("--replay-splits " + o.dist.replay_splits +
                      ": replays the row splits of --dist sync; this run is " +
                      comm::to_string(mode));
}

// --replay-splits: the splits must be of this run's workers and global batch.
std::vector<RowSplit> read_replay_splits(const JobContext& c) {
  const std::string& path = c.options.dist.replay_splits;
  std::vector<RowSplit> splits;
  try {
    splits = read_row_splits(path);
  } catch (const Error& e) {
    throw OptionError("--replay-splits: " + std::string(e.what()));
  }
  const std::string why =
      splits_mismatch(splits, c.roles.num_workers(), c.options.training.batch_size);
  if (!why.empty()) throw OptionError("--replay-splits " + path + ": " + why);
  return splits;
}

// --compress acts on sync mode's allreduce only. Async pushes are MPI_Accumulate, which takes
// predefined types and ops only: fp16 there would need a push protocol of its own (put slots
// that the servers sum), replacing the one whose exactly-once accounting the tests check.
void check_compression(const TrainOptions& o, comm::Mode mode) {
  const auto& d = o.dist;
  if (mode != comm::Mode::kSync && d.exchange != comm::ExchangeKind::kAuto)
    throw OptionError("--exchange " + comm::to_string(d.exchange) +
                      ": chooses how --dist sync reduces gradients; this run is " +
                      comm::to_string(mode));
  if ((d.compress == comm::Compression::kNone && !d.compress_auto) || mode == comm::Mode::kSync)
    return;
  throw OptionError("--compress " + (d.compress_auto ? "auto" : comm::to_string(d.compress)) +
                    ": compresses the gradient allreduce of --dist sync; this run is " +
                    comm::to_string(mode) +
                    (mode == comm::Mode::kAsync
                         ? " (async pushes use MPI_Accumulate, which has no fp16 type or op)"
                         : " (one rank exchanges nothing)"));
}

// Chief, first phase: its data decides the input shape and the step counts everyone uses.
std::string chief_checks(JobContext& ctx) {
  check_outputs(ctx.options);
  const auto& o = ctx.options;
  const comm::Mode mode = ctx.roles.mode;
  const TrainingPlan plan(ctx.train->unit_sizes(),
                          TrainingPlan::shard_config(o, mode, ctx.roles.num_workers()), o);
  ctx.facts.input = ctx.train->image_shape();
  ctx.facts.total_steps = plan.total_steps();
  ctx.facts.schedule = plan.schedule();
  build_model(ctx, ctx.facts.input);
  return choose_checkpoint(ctx);
}

void share_facts(JobContext& ctx, std::string& checkpoint) {
  comm::Watchdog::Scope guard(ctx.watchdog.get(), "sharing the start-up facts");
  const int chief = ctx.roles.chief_rank();
  JobFacts& f = ctx.facts;
  double numbers[8] = {static_cast<double>(f.input.c),
                       static_cast<double>(f.input.h),
                       static_cast<double>(f.input.w),
                       static_cast<double>(f.total_steps),
                       f.schedule.base,
                       f.schedule.decay_rate,
                       static_cast<double>(f.schedule.decay_steps),
                       f.schedule.staircase ? 1.0 : 0.0};
  mpi_call("MPI_Bcast (start-up facts)", MPI_Bcast, numbers, 8, MPI_DOUBLE, chief, MPI_COMM_WORLD);
  f.input = {static_cast<int64_t>(numbers[0]), static_cast<int64_t>(numbers[1]),
             static_cast<int64_t>(numbers[2])};
  f.total_steps = static_cast<int64_t>(numbers[3]);
  f.schedule = {static_cast<float>(numbers[4]), static_cast<float>(numbers[5]),
                static_cast<int64_t>(numbers[6]), numbers[7] != 0};
  int length = static_cast<int>(checkpoint.size());
  mpi_call("MPI_Bcast (checkpoint)", MPI_Bcast, &length, 1, MPI_INT, chief, MPI_COMM_WORLD);
  checkpoint.resize(static_cast<std::size_t>(length));
  mpi_call("MPI_Bcast (checkpoint)", MPI_Bcast, checkpoint.data(), length, MPI_CHAR, chief,
           MPI_COMM_WORLD);
}

// Second phase, every rank: the model, this rank's data against the chief's.
void build_shared_model(JobContext& ctx) {
  const data::ImageShape in = ctx.facts.input;
  if (!ctx.model) build_model(ctx, in);
  if (ctx.train && !(ctx.train->image_shape() == in)) {
    throw DataError(ctx.train->describe() + " holds " + ctx.train->image_shape().str() +
                    " images but the chief's training data holds " + in.str());
  }
}

// Every rank reads the checkpoint the chief chose, unless the node-local level was newer.
void load_checkpoint(JobContext& ctx, const std::string& checkpoint) {
  if (checkpoint.empty() || ctx.resumed) return;
  ctx.resumed = read_checkpoint(checkpoint, ctx.model->layout());
  ctx.resumed_path = checkpoint;
}

void note_resume(const JobContext& ctx) {
  if (ctx.mpi.rank() != 0) return;
  if (!ctx.local_report.empty()) std::printf("%s\n", ctx.local_report.c_str());
  if (!ctx.resumed) return;
  const auto& r = ctx.resumed->run;
  std::printf("resuming from %s at step %lld (epoch %.2f)\n", ctx.resumed_path.c_str(),
              static_cast<long long>(ctx.resumed->global_step), ctx.resumed->epoch);
  if (r.ranks != ctx.mpi.size() || r.num_ps != ctx.roles.num_ps ||
      r.mode != comm::to_string(ctx.roles.mode)) {
    std::printf(
        "note: the checkpoint was written by a %s run on %d ranks (%d server(s)); this run is %s "
        "on %d ranks (%d server(s)): the state is re-sharded and the continuation is not "
        "bit-identical\n",
        r.mode.c_str(), r.ranks, r.num_ps, comm::to_string(ctx.roles.mode).c_str(), ctx.mpi.size(),
        ctx.roles.num_ps);
  }
  std::fflush(stdout);
}

}  // namespace

std::shared_ptr<data::ExampleSource> open_data(const TrainOptions& o, const std::string& paths,
                                               const char* idx_prefix, bool labels_optional) {
  if (paths.empty()) return data::MemorySource::from_idx_dir(o.data.data_dir, idx_prefix);
  data::DatasetOptions d;
  d.paths = paths;
  d.format = o.data.format;
  d.features = o.data.features;
  d.num_classes = o.data.num_classes;
  d.skip_corrupt = o.data.skip_corrupt;
  d.io_hints = o.data.io_hints;
  d.labels_optional = labels_optional;
  return data::open_dataset(d);
}

comm::StallPolicy JobContext::stall() const {
  return comm::StallPolicy(options.dist.stall, mpi.rank());
}

TrainingState JobContext::state_header(int64_t steps, double epoch) const {
  TrainingState s;
  s.global_step = steps;
  s.epoch = epoch;
  s.model = model->spec().text();
  s.input = facts.input;
  s.optimizer = options.model.optimizer;
  s.run = {comm::to_string(roles.mode),
           mpi.size(),
           roles.num_ps,
           roles.num_workers(),
           options.model.seed,
           options.recorded,
           nn::to_string(precision),
           roles.mode != comm::Mode::kLocal ? exchange.choice.flags() : std::string()};
  if (rows && !rows->empty()) s.row_splits = rows->history();
  return s;
}

void JobContext::save_checkpoint(const TrainingState& state) const {
  TimelineSpan span("checkpoint: write", "io", state.global_step);
  CheckpointDir dir(options.output.model_dir, options.output.keep_checkpoints);
  dir.save(model->layout(), state);
  std::printf("checkpoint %s (step %lld)\n", dir.path_for(state.global_step).c_str(),
              static_cast<long long>(state.global_step));
  std::fflush(stdout);
}

std::unique_ptr<JobContext> prepare_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  start_signal_listener();  // first: the threads started from here on inherit its signal mask
  auto ctx = std::make_unique<JobContext>(o, mpi);
  ctx->wall0 = now_seconds();
  ctx->watchdog = std::make_unique<comm::Watchdog>(o.dist.stall, mpi.rank());
  JobContext& c = *ctx;
  std::string checkpoint;
  {
    comm::Watchdog::Scope guard(c.watchdog.get(), "finding the node of every rank");
    c.nodes = comm::node_of_each_rank(MPI_COMM_WORLD);
  }
  verdict(attempt([&] { check_same_options(c); }), c);
  {
    // Collective: every rank has the same options now, so every rank measures or none does.
    comm::Watchdog::Scope guard(c.watchdog.get(), "measuring the links and the compute");
    verdict(attempt([&] { c.exchange = plan_exchange(o, mpi, c.nodes); }), c);
  }
  verdict(attempt([&] {
            c.roles = comm::Roles::decide(mpi.rank(), mpi.size(), o.dist.dist,
                                          c.exchange.choice.num_ps, o.dist.ps_placement, c.nodes);
            check_compression(o, c.roles.mode);
            check_balance(o, c.roles.mode);
            if (c.roles.is_worker())
              c.precision = nn::resolve_precision(o.model.precision, &c.precision_note);
            if (c.roles.is_worker()) open_worker_data(c);
            if (c.roles.is_worker() && !o.dist.replay_splits.empty())
              c.replay_splits = read_replay_splits(c);
            if (c.roles.is_chief()) checkpoint = chief_checks(c);
          }),
          c);
  share_facts(c, checkpoint);
  verdict(attempt([&] { build_shared_model(c); }), c);
  if (!o.output.local_checkpoint_dir.empty()) start_local_level(c, checkpoint);
  verdict(attempt([&] { load_checkpoint(c, checkpoint); }), c);
  {
    comm::Watchdog::Scope guard(c.watchdog.get(), "counting the workers on each node");
    const int workers_here = comm::count_on_node(c.roles.is_worker(), MPI_COMM_WORLD);
    // Compute threads: the node's cores shared by the workers on it (servers mostly sleep).
    c.threads = c.roles.is_ps() ? 1 : compute_threads(o.dist.threads, std::max(1, workers_here));
  }
  use_compute_threads(c.threads);
  note_resume(c);
  return ctx;
}

}  // namespace dtrain::train

namespace dtrain::train {

CheckpointPart JobContext::local_part(int64_t step,
                                      const std::optional<TrainingState>& step_facts) const {
  CheckpointPart p;
  p.step = step;
  const TrainingState header = state_header(0, 0);
  p.fingerprint = local_fingerprint(header, options.output.model_dir);
  p.run = local_run_id;
  p.writer = mpi.rank();
  p.total = model->layout().total();
  if (step_facts) {
    p.facts = *step_facts;
    p.facts->params.clear();
    p.facts->optimizer_state.clear();
    p.facts->servers.clear();
  }
  return p;
}

void JobContext::finish_local(bool stopped) const {
  if (!local) return;
  comm::Watchdog::Scope guard(watchdog.get(), "ending the node-local checkpoints");
  // A finished job, or one stopped after its checkpoint in --model-dir, needs no node-local
  // files any more; a job stopped without --model-dir keeps them (they are all it has).
  local->finish(stopped && options.output.model_dir.empty());
}

}  // namespace dtrain::train
