#include <optional>
#include <utility>

#include "comm/parameter_shard.h"
#include "comm/ps_client.h"
#include "train/job_report.h"
#include "train/runners.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

// Async node-local checkpoints are cuts (ps_window.h): at the agreed step the chief asks every
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

}  // namespace

int64_t AsyncWorker::start_step() const {
  if (!ctx_.resumed) return 0;
  // Each worker continues from its own step count when the worker count is unchanged.
  const auto& ws = ctx_.resumed->worker_steps;
  return ws.size() == static_cast<std::size_t>(ctx_.roles.num_workers())
             ? ws[static_cast<std::size_t>(ctx_.roles.worker_index())]
             : ctx_.resumed->global_step;
}

int AsyncWorker::run() {
  timeline::name_this_thread("training");
  const auto& o = ctx_.options;
  const bool chief = ctx_.roles.is_chief();
  const std::size_t total = ctx_.model->layout().total();
  std::unique_ptr<comm::PsWindow> window;
  {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the parameter-server window");
    window = std::make_unique<comm::PsWindow>(MPI_COMM_WORLD, ctx_.roles,
                                              comm::split_parameters(total, ctx_.roles.num_ps));
    mpi_call("MPI_Barrier (servers ready)", MPI_Barrier, MPI_COMM_WORLD);
  }
  nn::Replica replica(*ctx_.model, nullptr, ctx_.precision);
  comm::ParameterServerClient client(*window, o.dist.max_staleness, ctx_.facts.total_steps,
                                     ctx_.stall(), ctx_.watchdog.get());
  print_roles(ctx_, window->shards());
  client.start_at(start_step());
  ChiefOutputs outputs(ctx_, chief);
  TrainerSetup s{&o,
                 &replica,
                 &client,
                 ctx_.train,
                 ctx_.test,
                 comm::Mode::kAsync,
                 ctx_.roles.worker_index(),
                 ctx_.roles.num_workers(),
                 MPI_COMM_NULL,
                 start_step(),
                 outputs.hooks()};
  if (chief && !o.output.model_dir.empty()) {
    s.hooks.save_checkpoint = [&](int64_t done, double epoch) {
      TrainingState st = ctx_.state_header(done, epoch);
      TimelineSpan span("checkpoint: gather", "io", done);
      auto g = client.gather_state(done, total, optim::state_names(o.model.optimizer));
      st.params = std::move(g.params);
      st.optimizer_state = std::move(g.optimizer);
      st.optimizer_steps = g.servers.front().optimizer_steps;
      st.worker_steps = std::move(g.worker_steps);
      for (const auto& srv : g.servers)
        st.servers.push_back(
            {srv.range.begin, srv.range.end, srv.pushes_applied, srv.optimizer_steps});
      ctx_.save_checkpoint(st);
      client.checkpoint_written(done);
    };
  }
  if (chief) s.hooks.staleness = [&] { return client.stats().push_pull->staleness_mean; };
  LocalCuts cuts(ctx_, client);
  if (ctx_.local) cuts.install(s.hooks, chief);
  Trainer trainer(s);
  if (chief) print_header(ctx_, trainer.plan());
  TrainResult result = trainer.run();
  if (ctx_.local && chief) cuts.wait();
  client.set_totals(static_cast<double>(result.metrics.images()), result.metrics.train_seconds());
  client.finish();
  if (chief) {
    client.pull_final(replica.params().data());
    // A stopped job is being preempted: report and go, the resumed run evaluates.
    if (!result.stopped) trainer.evaluate_now(result.last_step, result.metrics);
    report(ctx_, {&result, client.stats(), client.all_workers(), {}});
    if (!result.stopped) export_model(ctx_, replica, result);
  }
  ctx_.finish_local(result.stopped);
  comm::Watchdog::Scope guard(ctx_.watchdog.get(), "freeing the parameter-server window");
  window.reset();
  return result.stopped ? 143 : 0;
}

}  // namespace dtrain::train
