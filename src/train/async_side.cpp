// The async side of a worker's run (runners.h): the worker pulls weights from and pushes
// gradients to the parameter servers, which hold the model; the chief gathers checkpoints from
// them and, at the end, pulls and evaluates the final weights.
#include <optional>
#include <utility>

#include "comm/ps/client.h"
#include "comm/ps/shard.h"
#include "train/job_report.h"
#include "train/runners.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

// Async node-local checkpoints are cuts (comm/ps/window.h): at the agreed step the chief asks every
// server for its cut; once all have kept theirs, it keeps the step's facts (every worker at
// that step) and the next one can be agreed. The workers only poll the level.
class LocalCuts {
 public:
  LocalCuts(JobContext& ctx, comm::ParameterServerClient& client) : ctx_(ctx), client_(client) {}

  void install(TrainerHooks& hooks, bool chief) {
    if (chief) {
      hooks.save_local_checkpoint = [this](int64_t done, double epoch) {
        client_.begin_local_cut(done);
        epoch_ = epoch;
      };
      hooks.local_kept = [this] { return std::exchange(kept_, std::nullopt); };
      hooks.local_interval = [this](int64_t every) { ctx_.local->plan(every); };
      hooks.local_background_seconds = [this] {
        return local_write_seconds(*ctx_.local) + client_.server_keep_seconds();
      };
    }
    hooks.each_step = [this](int64_t done) {
      if (const auto step = client_.local_cut_kept(false)) keep_facts(*step);
      ctx_.local->poll(done);
    };
  }
  // The chief, after its last step: a cut still under way is kept before the job ends.
  void wait() {
    if (const auto step = client_.local_cut_kept(true)) keep_facts(*step);
  }

 private:
  void keep_facts(int64_t step) {
    TrainingState facts = ctx_.state_header(step, epoch_);
    facts.worker_steps.assign(static_cast<std::size_t>(ctx_.roles.num_workers()), step);
    ctx_.local->save(step, {{"state", ctx_.local_part(step, facts)}});
    client_.checkpoint_written(step);
    kept_ = step;
  }

  JobContext& ctx_;
  comm::ParameterServerClient& client_;
  double epoch_ = 0;             // of the cut under way
  std::optional<int64_t> kept_;  // the step of a cut kept since the trainer last asked
};

class AsyncSide final : public WorkerSide {
 public:
  explicit AsyncSide(JobContext& ctx);
  int64_t start(nn::Replica& replica) override;
  comm::GradientExchange& exchange() override { return *client_; }
  void install(TrainerHooks& hooks, nn::Replica& replica) override;
  void finish(const TrainResult& result) override;
  void finish_chief(Trainer& trainer, TrainResult& result, nn::Replica& replica) override;
  RunReport report(const TrainResult& result) override;
  void close() override;

 private:
  int64_t start_step() const;
  void save_checkpoint(int64_t done, double epoch);

  JobContext& ctx_;
  const bool chief_;
  const bool taking_;  // --balance speed: work taken from a shared counter
  std::unique_ptr<comm::PsWindow> window_;
  std::unique_ptr<comm::ParameterServerClient> client_;
  std::unique_ptr<LocalCuts> cuts_;
};

AsyncSide::AsyncSide(JobContext& ctx)
    : ctx_(ctx),
      chief_(ctx.roles.is_chief()),
      taking_(ctx.options.dist.balance == Balance::kSpeed) {
  comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the parameter-server window");
  window_ = std::make_unique<comm::PsWindow>(
      MPI_COMM_WORLD, ctx_.roles,
      comm::split_parameters(ctx_.model->layout().total(), ctx_.roles.num_ps));
  mpi_call("MPI_Barrier (servers ready)", MPI_Barrier, MPI_COMM_WORLD);
}

int64_t AsyncSide::start_step() const {
  if (!ctx_.resumed) return 0;
  // Work taken: every chunk of the steps before the checkpoint's is in it, none after.
  if (taking_) return ctx_.resumed->global_step;
  // Each worker continues from its own step count when the worker count is unchanged.
  const auto& ws = ctx_.resumed->worker_steps;
  return ws.size() == static_cast<std::size_t>(ctx_.roles.num_workers())
             ? ws[static_cast<std::size_t>(ctx_.roles.worker_index())]
             : ctx_.resumed->global_step;
}

int64_t AsyncSide::start(nn::Replica&) {
  client_ = std::make_unique<comm::ParameterServerClient>(*window_, ctx_.options.dist.max_staleness,
                                                          ctx_.facts.total_steps, ctx_.stall(),
                                                          ctx_.watchdog.get());
  print_roles(ctx_, window_->shards());
  const int64_t start = start_step();
  client_->start_at(start);  // the servers hold the weights: nothing to restore here
  const int64_t workers = ctx_.roles.num_workers();
  if (taking_) client_->take_work(start * workers, ctx_.facts.total_steps * workers);
  return start;
}

void AsyncSide::save_checkpoint(int64_t done, double epoch) {
  TrainingState st = ctx_.state_header(done, epoch);
  TimelineSpan span("checkpoint: gather", "io", done);
  auto g = client_->gather_state(done, ctx_.model->layout().total(),
                                 optim::state_names(ctx_.options.model.optimizer));
  st.params = std::move(g.params);
  st.optimizer_state = std::move(g.optimizer);
  st.optimizer_steps = g.servers.front().optimizer_steps;
  st.worker_steps = std::move(g.worker_steps);
  // Work taken: the clocks are the steps of the chunks held next; the checkpoint holds every
  // chunk of the steps before `done`, as if each worker had trained its share of them.
  if (taking_) st.worker_steps.assign(st.worker_steps.size(), done);
  for (const auto& srv : g.servers)
    st.servers.push_back({srv.range.begin, srv.range.end, srv.pushes_applied, srv.optimizer_steps});
  ctx_.save_checkpoint(st);
  client_->checkpoint_written(done);
}

void AsyncSide::install(TrainerHooks& hooks, nn::Replica&) {
  if (chief_ && !ctx_.options.output.model_dir.empty())
    hooks.save_checkpoint = [this](int64_t done, double epoch) { save_checkpoint(done, epoch); };
  if (chief_) hooks.staleness = [this] { return client_->stats().push_pull->staleness_mean; };
  if (taking_) hooks.take_work = [this](std::size_t depth) { return client_->take(depth); };
  // Each worker publishes its compute totals on server 0; the chief reads everyone's.
  hooks.share_compute = [this](double seconds, double rows) {
    client_->publish_compute(seconds, rows);
    return chief_ ? client_->read_compute() : std::vector<double>{};
  };
  if (!ctx_.local) return;
  cuts_ = std::make_unique<LocalCuts>(ctx_, *client_);
  cuts_->install(hooks, chief_);
}

void AsyncSide::finish(const TrainResult& result) {
  if (cuts_ && chief_) cuts_->wait();
  client_->set_totals(static_cast<double>(result.metrics.images()), result.metrics.train_seconds());
  client_->finish();
}

void AsyncSide::finish_chief(Trainer& trainer, TrainResult& result, nn::Replica& replica) {
  client_->pull_final(replica.params().data());
  // A stopped job is being preempted: the resumed run evaluates.
  if (!result.stopped) trainer.evaluate_now(result.last_step, result.metrics);
}

RunReport AsyncSide::report(const TrainResult& result) {
  if (!chief_) return {&result, {}, std::nullopt, {}};
  return {&result, client_->stats(), client_->all_workers(), {}};
}

void AsyncSide::close() {
  cuts_.reset();
  client_.reset();
  comm::Watchdog::Scope guard(ctx_.watchdog.get(), "freeing the parameter-server window");
  window_.reset();
}

}  // namespace

std::unique_ptr<WorkerSide> make_async_side(JobContext& ctx) {
  return std::make_unique<AsyncSide>(ctx);
}

}  // namespace dtrain::train
