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

#include <nlohmann/json.hpp>

#include "dtrain/nn/replica.h"
#include "dtrain/optim/optimizer.h"

namespace dtrain::comm {

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
  // This worker has run its last step.
  virtual void finish() {}
  // Combines per-rank request flags (checkpoint, stop) so that ranks which must move in step
  // act on the same step: sync ORs them over all ranks; otherwise each worker acts alone.
  virtual int agree(int flags) { return flags; }
  // The optimizer whose state belongs to this rank, if it holds one for the whole model.
  virtual optim::Optimizer* optimizer() { return nullptr; }
  // Timings and counters for the metrics JSON.
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
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
