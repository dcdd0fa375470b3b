// GradientExchange: how a worker's gradients become new parameters. The training loop is the
// same for every mode; only this hook differs:
//  - LocalExchange: one process, the optimizer steps the replica in place.
//  - AllreduceExchange (sync): buckets of the flat gradient buffer are reduced while
//    backpropagation continues; each rank updates its own slice of the parameters (ZeRO-1)
//    and the slices are gathered, or every rank takes the same whole step.
//  - ParameterServerClient (async): weights are pulled from and gradients pushed to the
//    parameter servers over MPI one-sided RMA; the servers run the optimizer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dtrain/comm/roles.h"
#include "dtrain/nn/replica.h"
#include "dtrain/optim/optimizer.h"

namespace dtrain::comm {

// Requests a rank has at the end of a step, and what the ranks agree to do.
// kLocalCheckpointRequest: a checkpoint of the node-local level only (the chief asks for it).
enum StepRequest : int {
  kNoRequest = 0,
  kCheckpointRequest = 1,
  kStopRequest = 2,
  kLocalCheckpointRequest = 4
};

// What an exchange measured, per step, for the report and the metrics.
struct AllreduceStats {
  int buckets = 0;
  double bytes_per_step = 0;  // gradient bytes reduced (as sent: fp16 halves them)
  Compression compression = Compression::kNone;
  double reduce_seconds_per_step = 0;  // in the reduction (reduce-scatter, or MPI_Allreduce)
  double span_seconds_per_step = 0;    // first bucket started to last bucket done
  double gbps = 0;
  double buckets_done_before_backward_ended = 0;
  bool sharded_optimizer = false;      // reduce-scatter, a slice update, allgather
  double gather_seconds_per_step = 0;  // the parameter allgather (sharded)
  bool params_shared = false;          // one copy per node: a barrier instead of the allgather
  double optimizer_state_bytes = 0;    // held by this rank
};
struct PushPullStats {
  double pull_seconds_per_step = 0, push_seconds_per_step = 0;
  double pull_gbps = 0, push_gbps = 0;
  double bytes_per_step = 0;  // pulled plus pushed
  double staleness_mean = 0, staleness_max = 0, staleness_wait_seconds = 0;
};
// The optimizer state this rank alone keeps (the node-local checkpoint level): the ranges of
// the flat buffer it updates and, per state array, their values back to back.
struct OwnedOptimizerState {
  std::vector<nn::ParamRange> ranges;
  optim::NamedArrays arrays;
  bool whole = false;  // every rank keeps all of it (an unsharded optimizer)
};

struct ExchangeStats {
  double comm_wait_seconds_per_step = 0;  // the step waited for communication
  double optimizer_seconds_per_step = 0;  // on this rank
  std::optional<AllreduceStats> allreduce;
  std::optional<PushPullStats> push_pull;
};

class GradientExchange {
 public:
  virtual ~GradientExchange() = default;
  virtual std::string name() const = 0;
  // Before the forward pass: may refresh the replica's parameters (async pull).
  virtual void before_step(nn::Replica&, int64_t /*step*/) {}
  // During backward, as soon as a range of gradients is final.
  virtual void gradients_ready(nn::ParamRange) {}
  // After backward: apply this step's gradients (already scaled to the mean over the batch).
  virtual void after_step(nn::Replica& replica, int64_t step, float lr) = 0;
  // After step `done` (steps completed): this rank's requests in, what to do now out
  // (StepRequest flags). Sync ranks OR theirs; async workers agree on a step (comm/ps/window.h).
  virtual int agree(int requests, int64_t /*done*/, bool /*last*/) { return requests; }
  // This worker has run its last step.
  virtual void finish() {}
  // The optimizer state of the whole model, for a checkpoint (empty where the parameter
  // servers keep it). Where ranks share the state (sync with a sharded optimizer) this is a
  // collective that every rank calls, and only rank 0 of the exchange gets the arrays.
  virtual optim::NamedArrays optimizer_state() { return {}; }
  virtual int64_t optimizer_steps() const { return 0; }
  // Loads state saved for the whole model; each rank keeps the part it updates.
  virtual void restore_optimizer(const optim::NamedArrays& /*whole*/, int64_t /*steps*/) {}
  // The part of the optimizer state this rank keeps (not collective; empty where the parameter
  // servers keep it).
  virtual OwnedOptimizerState owned_optimizer_state() { return {}; }
  // The learning rate the parameters were last updated with, when someone else applies it
  // (the parameter servers); nullopt when it is this rank's own schedule.
  virtual std::optional<float> applied_learning_rate() { return std::nullopt; }
  virtual ExchangeStats stats() const { return {}; }
};

class LocalExchange final : public GradientExchange {
 public:
  explicit LocalExchange(std::unique_ptr<optim::Optimizer> optimizer)
      : optimizer_(std::move(optimizer)) {}
  std::string name() const override { return "local"; }
  void after_step(nn::Replica& replica, int64_t, float lr) override {
    const auto t0 = std::chrono::steady_clock::now();
    optimizer_->step(replica.params().span(), replica.grads().span(), lr, 1.0f);
    optimizer_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++steps_;
  }
  ExchangeStats stats() const override {
    ExchangeStats s;
    s.optimizer_seconds_per_step =
        steps_ > 0 ? optimizer_seconds_ / static_cast<double>(steps_) : 0;
    return s;
  }
  optim::NamedArrays optimizer_state() override { return optim::snapshot_state(*optimizer_); }
  int64_t optimizer_steps() const override { return optimizer_->steps(); }
  void restore_optimizer(const optim::NamedArrays& whole, int64_t steps) override {
    optim::restore_state(*optimizer_, whole, steps);
  }
  OwnedOptimizerState owned_optimizer_state() override {
    const auto state = optim::snapshot_state(*optimizer_);
    const std::size_t n = state.empty() ? 0 : state.front().second.size();
    return {{{0, n}}, state, true};
  }

 private:
  std::unique_ptr<optim::Optimizer> optimizer_;
  double optimizer_seconds_ = 0;
  int64_t steps_ = 0;
};

}  // namespace dtrain::comm
