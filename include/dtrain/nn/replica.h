// Replica: one rank's working copy of a model: the flat parameter and gradient buffers, the
// networks compiled for each batch size it has seen, and the loss. This is the unit a trainer
// drives: one call runs forward, loss and backward for a batch.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "dtrain/nn/batch.h"
#include "dtrain/nn/model.h"
#include "dtrain/nn/precision.h"
#include "dtrain/util/aligned_buffer.h"

namespace dtrain::nn {

class Network;       // src/nn/network.h: a model compiled into oneDNN primitives
struct DnnlContext;  // src/nn/dnnl_context.h

class Replica {
 public:
  // shared_params, when given: parameters in memory the caller owns and keeps alive, 64-byte
  // aligned, with room for model.layout().total() floats (the one copy the ranks of a node
  // share in sync mode). Otherwise the replica owns its parameters.
  // precision: of the convolutions and dense layers (dtrain/nn/precision.h); the buffers, the
  // loss and what train_batch returns are fp32 either way.
  explicit Replica(const Model& model, float* shared_params = nullptr,
                   Precision precision = Precision::kFp32);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const Model& model() const { return model_; }
  AlignedBuffer& params() { return params_; }
  const AlignedBuffer& params() const { return params_; }
  AlignedBuffer& grads() { return grads_; }

  // Forward, loss and backward. Gradients are d(grad_scale * sum of losses)/d(params).
  LossStats train_batch(const BatchView& batch, const StepContext& step, float grad_scale,
                        const GradientReadyFn& ready = nullptr);
  // Forward without dropout. probs (rows x classes) and features (rows x feature width) are
  // filled when non-null.
  LossStats eval_batch(const BatchView& batch, float* probs = nullptr, float* features = nullptr);

 private:
  // The network compiled for this batch size, built on first use. At most kMaxNetworks are
  // kept (the least recently used goes): --balance speed changes a rank's rows, and each size
  // costs a build (about 15 ms) and its activations.
  Network& network(int64_t batch, bool training);
  static constexpr std::size_t kMaxNetworks = 8;

  const Model& model_;
  std::unique_ptr<DnnlContext> ctx_;
  AlignedBuffer params_, grads_;
  struct CachedNetwork {
    std::unique_ptr<Network> network;
    int64_t last_use = 0;  // the use counter's value
  };
  std::map<std::pair<int64_t, bool>, CachedNetwork> networks_;
  int64_t uses_ = 0;
  std::vector<float> diff_logits_;
};

}  // namespace dtrain::nn
