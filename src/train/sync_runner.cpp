#include <cmath>
#include <cstdio>
#include <string>

#include "comm/allreduce_exchange.h"
#include "comm/heartbeat.h"
#include "dtrain/util/error.h"
#include "train/job_report.h"
#include "train/runners.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

// The largest power of two <= the global batch: fp16 then carries the gradient summed over
// the batch's examples rather than its mean (comm/fp16.h).
float fp16_scale(int64_t global_batch) {
  return std::exp2(std::floor(std::log2(static_cast<float>(std::max<int64_t>(1, global_batch)))));
}

}  // namespace

std::vector<LocalLevel::Part> SyncRunner::local_parts(int64_t done, double epoch,
                                                      const nn::Replica& replica,
                                                      comm::GradientExchange& exchange) const {
  const int rank = ctx_.mpi.rank();
  const float* params = replica.params().data();
  TrainingState facts = ctx_.state_header(done, epoch);
  facts.optimizer_steps = exchange.optimizer_steps();
  comm::OwnedOptimizerState own = exchange.owned_optimizer_state();
  std::vector<LocalLevel::Part> parts;
  auto state_part = [&](std::optional<TrainingState> with) {
    CheckpointPart p = ctx_.local_part(done, with);
    for (auto& [name, values] : own.arrays)
      p.arrays.push_back({name, own.ranges, std::move(values)});
    return p;
  };
  if (!own.whole) {
    // The sharded optimizer: each rank its pieces of the optimizer state and the parameters of
    // the same ranges (the same on every rank), the chief also the step's facts. So the ranks
    // together write the parameters once per job, not once per node: with one rank per node on
    // 4 nodes, a quarter of the parameters' bytes (with Adam, half of all bytes) written and
    // copied to partners.
    CheckpointPart p = state_part(rank == 0 ? std::optional(facts) : std::nullopt);
    std::vector<float> mine;
    for (const auto& r : own.ranges) mine.insert(mine.end(), params + r.begin, params + r.end);
    p.arrays.push_back({"params", own.ranges, std::move(mine)});
    parts.push_back({"state", std::move(p)});
    return parts;
  }
  // Every rank holds all of it: the first rank of each node keeps it, with the step's facts.
  if (ctx_.nodes[static_cast<std::size_t>(rank)] != rank) return parts;
  CheckpointPart p = ctx_.local_part(done, facts);
  p.arrays.push_back({"params",
                      {{0, replica.params().size()}},
                      std::vector<float>(params, params + replica.params().size())});
  parts.push_back({"params", std::move(p)});
  parts.push_back({"state", state_part(std::nullopt)});
  return parts;
}

void SyncRunner::restore(nn::Replica& replica, comm::GradientExchange& exchange,
                         const comm::NodeSharedBuffer* shared) const {
  if (!shared || shared->writer()) {
    ctx_.model->init_params(replica.params().span(), ctx_.options.model.seed);
    if (ctx_.resumed) {
      const auto& p = ctx_.resumed->params;
      std::copy(p.begin(), p.end(), replica.params().data());
    }
  }
  if (shared) shared->fence(ctx_.stall(), "the initial parameters", {});
  if (!ctx_.resumed) return;
  const TrainingState& s = *ctx_.resumed;
  if (s.optimizer != ctx_.options.model.optimizer) {
    if (ctx_.mpi.rank() == 0)
      std::printf("note: the checkpoint used %s, this run %s: optimizer state starts fresh\n",
                  optim::to_string(s.optimizer).c_str(),
                  optim::to_string(ctx_.options.model.optimizer).c_str());
    return;
  }
  exchange.restore_optimizer(s.optimizer_state, s.optimizer_steps);
}

std::unique_ptr<comm::NodeSharedBuffer> SyncRunner::shared_params(std::size_t floats,
                                                                  std::string* note) const {
  const auto& d = ctx_.options.dist;
  if (ctx_.roles.mode != comm::Mode::kSync) return nullptr;
  if (!d.shard_optimizer) return nullptr;
  std::string why_not = "without --shared-params";
  std::unique_ptr<comm::NodeSharedBuffer> shared;
  if (d.shared_params) {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the shared parameter window");
    shared = comm::NodeSharedBuffer::create(MPI_COMM_WORLD, floats, &why_not);
  }
  *note = shared ? "parameters: one copy in this node's shared memory, updated in place by each "
                   "rank's optimizer (no allgather)"
                 : "parameters: a copy per rank, allgathered after each update (" + why_not + ")";
  return shared;
}

int SyncRunner::run() {
  timeline::name_this_thread("training");
  const auto& o = ctx_.options;
  const bool sync = ctx_.roles.mode == comm::Mode::kSync;
  const bool chief = ctx_.roles.is_chief();
  const std::size_t floats = ctx_.model->layout().total();
  std::string params_note;
  const std::unique_ptr<comm::NodeSharedBuffer> shared = shared_params(floats, &params_note);
  nn::Replica replica(*ctx_.model, shared ? shared->data() : nullptr, ctx_.precision);
  std::unique_ptr<comm::Heartbeat> heartbeat;
  if (sync) {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the heartbeat window");
    heartbeat = std::make_unique<comm::Heartbeat>(MPI_COMM_WORLD);
  }
  std::unique_ptr<comm::GradientExchange> exchange;
  if (sync) {
    exchange = std::make_unique<comm::AllreduceExchange>(
        MPI_COMM_WORLD, replica.params().size(), optimizer_config(o),
        comm::AllreduceExchange::Options{o.dist.bucket_mb, o.dist.shard_optimizer, o.dist.compress,
                                         fp16_scale(o.training.batch_size), shared.get()},
        ctx_.stall(), heartbeat.get(), ctx_.watchdog.get());
  } else {
    exchange = std::make_unique<comm::LocalExchange>(
        optim::make_optimizer(optimizer_config(o), replica.params().size()));
  }
  restore(replica, *exchange, shared.get());
  print_roles(ctx_, {});
  if (chief && !params_note.empty()) std::printf("%s\n", params_note.c_str());
  ChiefOutputs outputs(ctx_, chief);
  TrainerSetup s{&o,
                 &replica,
                 exchange.get(),
                 ctx_.train,
                 ctx_.test,
                 ctx_.roles.mode,
                 ctx_.roles.worker_index(),
                 ctx_.roles.num_workers(),
                 sync ? MPI_COMM_WORLD : MPI_COMM_NULL,
                 ctx_.resumed ? ctx_.resumed->global_step : 0,
                 outputs.hooks()};
  if (!o.output.model_dir.empty()) {
    // Every rank holds the same parameters; the optimizer state may be spread over the ranks
    // (sharded), so every rank takes part in gathering it and the chief writes it all.
    s.hooks.save_checkpoint = [&](int64_t done, double epoch) {
      optim::NamedArrays state = exchange->optimizer_state();
      if (!chief) return;
      TrainingState st = ctx_.state_header(done, epoch);
      st.params.assign(replica.params().data(), replica.params().data() + replica.params().size());
      st.optimizer_steps = exchange->optimizer_steps();
      st.optimizer_state = std::move(state);
      ctx_.save_checkpoint(st);
    };
  }
  if (ctx_.local) {
    ctx_.local->wait_for_copies();  // every rank polls after every step (sync)
    s.hooks.save_local_checkpoint = [&](int64_t done, double epoch) {
      ctx_.local->save(done, local_parts(done, epoch, replica, *exchange));
    };
    s.hooks.each_step = [&](int64_t done) { ctx_.local->poll(done); };
    s.hooks.local_interval = [&](int64_t every) { ctx_.local->plan(every); };
    s.hooks.local_background_seconds = [&] { return local_write_seconds(*ctx_.local); };
  }
  Trainer trainer(s);
  if (chief) print_header(ctx_, trainer.plan());
  const TrainResult result = trainer.run();
  ctx_.finish_local(result.stopped);
  exchange->finish();
  // One process: the report takes its own peak.
  std::vector<double> rss = sync ? gather_peak_rss(MPI_COMM_WORLD) : std::vector<double>{};
  if (chief) {
    report(ctx_, {&result, exchange->stats(), std::nullopt, std::move(rss)});
    if (!result.stopped) export_model(ctx_, replica, result);
  }
  exchange.reset();
  {
    comm::Watchdog::Scope guard(ctx_.watchdog.get(), "freeing the heartbeat window");
    heartbeat.reset();
  }
  return result.stopped ? 143 : 0;
}

}  // namespace dtrain::train
