#include <cstdio>

#include "comm/ps/server.h"
#include "comm/ps/shard.h"
#include "train/job_report.h"
#include "train/runners.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

// Where this server's shard starts: fresh, or from the checkpoint. The counters (pushes
// applied, optimizer steps) are those of the server that held the shard's first float, so the
// learning rate and Adam's bias correction continue where they stopped.
comm::ServerStart server_start(const JobContext& ctx, const nn::ParamRange& shard) {
  comm::ServerStart start;
  if (!ctx.resumed) return start;
  const TrainingState& s = *ctx.resumed;
  if (s.optimizer == ctx.options.model.optimizer) {
    for (const auto& [name, values] : s.optimizer_state) {
      start.optimizer_state.emplace_back(
          name, std::vector<float>(values.begin() + static_cast<std::ptrdiff_t>(shard.begin),
                                   values.begin() + static_cast<std::ptrdiff_t>(shard.end)));
    }
    start.optimizer_steps = s.optimizer_steps;
  }
  // A checkpoint of a sync or local run: one push per worker and step.
  start.pushes_applied = s.global_step * ctx.roles.num_workers();
  for (const auto& c : s.servers) {
    if (c.begin <= shard.begin && shard.begin < c.end) {
      start.pushes_applied = c.pushes_applied;
      if (s.optimizer == ctx.options.model.optimizer) start.optimizer_steps = c.optimizer_steps;
    }
  }
  return start;
}

// The server's shard at an agreed step as its part of a node-local checkpoint.
LocalLevel::Part shard_part(const JobContext& ctx, const nn::ParamRange& shard,
                            comm::ShardSnapshot snap) {
  CheckpointPart p = ctx.local_part(snap.step, std::nullopt);
  p.arrays.push_back({"params", {shard}, std::move(snap.params)});
  for (auto& [name, values] : snap.optimizer_state)
    p.arrays.push_back({name, {shard}, std::move(values)});
  p.servers.push_back({shard.begin, shard.end, snap.pushes_applied, snap.optimizer_steps});
  return {"state", std::move(p)};
}

}  // namespace

int ServerRunner::run() {
  timeline::name_this_thread("parameter server");
  const auto& o = ctx_.options;
  const std::size_t total = ctx_.model->layout().total();
  const int rank = ctx_.roles.rank, ps = ctx_.roles.ps_index(rank);
  std::unique_ptr<comm::PsWindow> window;
  {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the parameter-server window");
    window = std::make_unique<comm::PsWindow>(MPI_COMM_WORLD, ctx_.roles,
                                              comm::split_parameters(total, ctx_.roles.num_ps));
  }
  const nn::ParamRange shard = window->shards()[static_cast<std::size_t>(ps)];
  std::vector<float> init(total);
  ctx_.model->init_params(init, o.model.seed);
  if (ctx_.resumed) init = ctx_.resumed->params;
  const comm::ServerStart start = server_start(ctx_, shard);
  auto server = std::make_unique<comm::ParameterServer>(
      *window, std::span<const float>(init.data() + shard.begin, shard.size()), optimizer_config(o),
      start, ctx_.stall(), ctx_.watchdog.get());
  if (ctx_.local) {
    server->set_local_checkpoints({[&](comm::ShardSnapshot snap) {
                                     const int64_t step = snap.step;
                                     ctx_.local->save(step,
                                                      {shard_part(ctx_, shard, std::move(snap))});
                                   },
                                   [&] { ctx_.local->poll(); }});
  }
  {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "waiting for every rank at start-up");
    mpi_call("MPI_Barrier (servers ready)", MPI_Barrier, MPI_COMM_WORLD);
  }
  print_roles(ctx_, window->shards());
  // The servers step the rate by pushes applied: a worker step is one push from each worker.
  optim::LrSchedule schedule = ctx_.facts.schedule;
  schedule.decay_steps *= ctx_.roles.num_workers();
  std::printf(
      "[rank %d] parameter server %d: floats [%zu, %zu), starting at %lld pushes applied, "
      "optimizer step %lld, learning rate %.6g\n",
      rank, ps, shard.begin, shard.end, static_cast<long long>(start.pushes_applied),
      static_cast<long long>(start.optimizer_steps),
      static_cast<double>(schedule.at(start.pushes_applied)));
  std::fflush(stdout);
  const comm::ServerStats st = server->serve(schedule);
  std::printf(
      "[rank %d] parameter server %d done: %lld pushes applied (%lld this run) in %lld "
      "drains (at most %lld per drain), optimizer step %lld, learning rate %.6g, busy "
      "%.0f%% of %.1fs\n",
      rank, ps, static_cast<long long>(st.pushes_applied),
      static_cast<long long>(st.pushes_applied - st.first_applied),
      static_cast<long long>(st.drains), static_cast<long long>(st.max_merged),
      static_cast<long long>(server->optimizer_steps()), static_cast<double>(st.learning_rate),
      100.0 * st.busy_fraction, st.serve_seconds);
  std::fflush(stdout);
  ctx_.finish_local(false);
  server.reset();
  comm::Watchdog::Scope guard(ctx_.watchdog.get(), "freeing the parameter-server window");
  window.reset();
  return 0;
}

}  // namespace dtrain::train
