// The sync side of a worker's run (runners.h): every rank a worker, gradients averaged by the
// AllreduceExchange; or one process alone with a LocalExchange. Every rank holds the same
// parameters, so every rank restores them, and a checkpoint gathers only the optimizer state
// the sharded exchange spreads over the ranks.
#include <cstdio>
#include <string>

#include "comm/heartbeat.h"
#include "comm/stall.h"
#include "comm/sync/allreduce_exchange.h"
#include "comm/sync/node_shared_buffer.h"
#include "comm/sync/ring_comm.h"
#include "dtrain/util/error.h"
#include "train/job_report.h"
#include "train/runners.h"

namespace dtrain::train {

namespace {

class SyncSide final : public WorkerSide {
 public:
  explicit SyncSide(JobContext& ctx);
  float* parameter_storage() override { return shared_ ? shared_->data() : nullptr; }
  int64_t start(nn::Replica& replica) override;
  comm::GradientExchange& exchange() override { return *exchange_; }
  void install(TrainerHooks& hooks, nn::Replica& replica) override;
  void finish(const TrainResult&) override { exchange_->finish(); }
  RunReport report(const TrainResult& result) override;
  void close() override;

 private:
  // The node's shared parameters when sync mode can use them, else nullptr; `note` says which
  // and why, for the chief to print.
  std::unique_ptr<comm::NodeSharedBuffer> shared_params(std::size_t floats,
                                                        std::string* note) const;
  // The replica starts from the initial weights, or from the checkpoint with its optimizer.
  // With a node's shared copy of the parameters, its writer fills it and the others wait at
  // its fence.
  void restore(nn::Replica& replica) const;
  // This rank's parts of a node-local checkpoint: the node's first rank the parameters with the
  // step's facts; each rank the optimizer state it alone keeps.
  std::vector<LocalLevel::Part> local_parts(int64_t done, double epoch,
                                            const nn::Replica& replica) const;

  JobContext& ctx_;
  const bool sync_;
  std::string params_note_;
  std::unique_ptr<comm::NodeSharedBuffer> shared_;
  std::unique_ptr<comm::Heartbeat> heartbeat_;
  std::unique_ptr<comm::RingComm> ring_;  // the whole allreduce on a ring (outlives exchange_)
  std::unique_ptr<comm::GradientExchange> exchange_;
};

SyncSide::SyncSide(JobContext& ctx) : ctx_(ctx), sync_(ctx.roles.mode == comm::Mode::kSync) {
  shared_ = shared_params(ctx_.model->layout().total(), &params_note_);
}

std::vector<LocalLevel::Part> SyncSide::local_parts(int64_t done, double epoch,
                                                    const nn::Replica& replica) const {
  const int rank = ctx_.mpi.rank();
  const float* params = replica.params().data();
  TrainingState facts = ctx_.state_header(done, epoch);
  facts.optimizer_steps = exchange_->optimizer_steps();
  comm::OwnedOptimizerState own = exchange_->owned_optimizer_state();
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

void SyncSide::restore(nn::Replica& replica) const {
  if (!shared_ || shared_->writer()) {
    ctx_.model->init_params(replica.params().span(), ctx_.options.model.seed);
    if (ctx_.resumed) {
      const auto& p = ctx_.resumed->params;
      std::copy(p.begin(), p.end(), replica.params().data());
    }
  }
  if (shared_) shared_->fence(ctx_.stall(), "the initial parameters", {});
  if (!ctx_.resumed) return;
  const TrainingState& s = *ctx_.resumed;
  if (s.optimizer != ctx_.options.model.optimizer) {
    if (ctx_.mpi.rank() == 0)
      std::printf("note: the checkpoint used %s, this run %s: optimizer state starts fresh\n",
                  optim::to_string(s.optimizer).c_str(),
                  optim::to_string(ctx_.options.model.optimizer).c_str());
    return;
  }
  exchange_->restore_optimizer(s.optimizer_state, s.optimizer_steps);
}

std::unique_ptr<comm::NodeSharedBuffer> SyncSide::shared_params(std::size_t floats,
                                                                std::string* note) const {
  const auto& d = ctx_.options.dist;
  if (ctx_.roles.mode != comm::Mode::kSync) return nullptr;
  if (!ctx_.exchange.choice.sharded) return nullptr;
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

int64_t SyncSide::start(nn::Replica& replica) {
  const auto& o = ctx_.options;
  if (sync_) {
    {
      comm::Watchdog::Scope guard(ctx_.watchdog.get(), "creating the heartbeat window");
      heartbeat_ = std::make_unique<comm::Heartbeat>(MPI_COMM_WORLD);
    }
    const comm::ExchangeChoice& c = ctx_.exchange.choice;
    MPI_Comm comm = MPI_COMM_WORLD;
    if (c.ring) {
      comm::Watchdog::Scope guard(ctx_.watchdog.get(), "setting up the ring allreduce");
      ring_ = std::make_unique<comm::RingComm>(MPI_COMM_WORLD);
      comm = ring_->comm();
    }
    exchange_ = std::make_unique<comm::AllreduceExchange>(
        comm, replica.params().size(), optimizer_config(o),
        comm::AllreduceExchange::Options{c.bucket_mb, c.sharded, c.wire,
                                         comm::GradientWire::fp16_scale_for(o.training.batch_size),
                                         shared_.get()},
        ctx_.stall(), heartbeat_.get(), ctx_.watchdog.get());
  } else {
    exchange_ = std::make_unique<comm::LocalExchange>(
        optim::make_optimizer(optimizer_config(o), replica.params().size()));
  }
  restore(replica);
  print_roles(ctx_, {});
  if (ctx_.roles.is_chief() && !params_note_.empty()) std::printf("%s\n", params_note_.c_str());
  if (ctx_.roles.is_chief() && ring_ && !ring_->note().empty())
    std::printf("note: --exchange ring: %s\n", ring_->note().c_str());
  return ctx_.resumed ? ctx_.resumed->global_step : 0;
}

void SyncSide::install(TrainerHooks& hooks, nn::Replica& replica) {
  if (!ctx_.options.output.model_dir.empty()) {
    // Every rank holds the same parameters; the optimizer state may be spread over the ranks
    // (sharded), so every rank takes part in gathering it and the chief writes it all.
    hooks.save_checkpoint = [this, &replica](int64_t done, double epoch) {
      optim::NamedArrays state = exchange_->optimizer_state();
      if (!ctx_.roles.is_chief()) return;
      TrainingState st = ctx_.state_header(done, epoch);
      const auto& params = replica.params();
      st.params.assign(params.data(), params.data() + params.size());
      st.optimizer_steps = exchange_->optimizer_steps();
      st.optimizer_state = std::move(state);
      ctx_.save_checkpoint(st);
    };
  }
  if (sync_) {
    // Each rank its own slots, summed: every rank gets every worker's totals.
    auto sum = comm::polled_sum(MPI_COMM_WORLD, ctx_.options.dist.stall,
                                "the sum of the workers' compute times");
    hooks.share_compute = [this, sum](double seconds, double rows) {
      const int n = ctx_.mpi.size(), me = ctx_.mpi.rank();
      std::vector<double> totals(static_cast<std::size_t>(2 * n), 0.0);
      totals[static_cast<std::size_t>(me)] = seconds;
      totals[static_cast<std::size_t>(n + me)] = rows;
      sum(totals);
      return totals;
    };
  }
  if (!ctx_.local) return;
  ctx_.local->wait_for_copies();  // every rank polls after every step (sync)
  hooks.save_local_checkpoint = [this, &replica](int64_t done, double epoch) {
    ctx_.local->save(done, local_parts(done, epoch, replica));
  };
  hooks.each_step = [this](int64_t done) { ctx_.local->poll(done); };
  hooks.local_interval = [this](int64_t every) { ctx_.local->plan(every); };
  hooks.local_background_seconds = [this] { return local_write_seconds(*ctx_.local); };
}

RunReport SyncSide::report(const TrainResult& result) {
  // One process: the report takes its own peak.
  std::vector<double> rss = sync_ ? gather_peak_rss(MPI_COMM_WORLD) : std::vector<double>{};
  return {&result, exchange_->stats(), std::nullopt, std::move(rss)};
}

void SyncSide::close() {
  exchange_.reset();
  ring_.reset();
  comm::Watchdog::Scope guard(ctx_.watchdog.get(), "freeing the heartbeat window");
  heartbeat_.reset();
}

}  // namespace

std::unique_ptr<WorkerSide> make_sync_side(JobContext& ctx) {
  return std::make_unique<SyncSide>(ctx);
}

}  // namespace dtrain::train
