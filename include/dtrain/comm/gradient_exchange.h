// GradientExchange: how a worker's gradients become new parameters. The training loop is the
// same for every mode; only this hook differs:
//  - LocalExchange: one process, the optimizer steps the replica in place.
//  - AllreduceExchange (sync): buckets of the flat gradient buffer are allreduced while
//    backpropagation continues, then every rank takes the same optimizer step.
//  - ParameterServerClient (async): weights are pulled from and gradients pushed to the
//    parameter servers over MPI one-sided RMA; the servers run the optimizer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dtrain/nn/replica.h"
#include "dtrain/optim/optimizer.h"

namespace dtrain::comm {

// Requests a rank has at the end of a step, and what the ranks agree to do.
enum StepRequest : int { kNoRequest = 0, kCheckpointRequest = 1, kStopRequest = 2 };

// What an exchange measured, per step, for the report and the metrics.
struct AllreduceStats {
  int buckets = 0;
  double bytes_per_step = 0;           // gradient bytes reduced
  double reduce_seconds_per_step = 0;  // inside MPI_Allreduce
  double span_seconds_per_step = 0;    // first bucket started to last bucket done
  double gbps = 0;
  double buckets_done_before_backward_ended = 0;
};
struct PushPullStats {
  double pull_seconds_per_step = 0, push_seconds_per_step = 0;
  double pull_gbps = 0, push_gbps = 0;
  double bytes_per_step = 0;  // pulled plus pushed
  double staleness_mean = 0, staleness_max = 0, staleness_wait_seconds = 0;
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
  // (StepRequest flags). Sync ranks OR theirs; async workers agree on a step (ps_window.h).
  virtual int agree(int requests, int64_t /*done*/, bool /*last*/) { return requests; }
  // This worker has run its last step.
  virtual void finish() {}
  // The optimizer whose state belongs to this rank, if it holds one for the whole model.
  virtual optim::Optimizer* optimizer() { return nullptr; }
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
    optimizer_->step(replica.params().span(), replica.grads().span(), lr, 1.0f);
  }
  optim::Optimizer* optimizer() override { return optimizer_.get(); }

 private:
  std::unique_ptr<optim::Optimizer> optimizer_;
};

}  // namespace dtrain::comm
