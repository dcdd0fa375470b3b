// Replica: one rank's working copy of a model: the flat parameter and gradient buffers, the
// networks compiled for each batch size it has seen, and the loss. This is the unit a trainer
// drives: one call runs forward, loss and backward for a batch.
#pragma once

#include <map>
#include <memory>

#include "dtrain/nn/dnnl_context.h"
#include "dtrain/nn/network.h"
#include "dtrain/nn/softmax_cross_entropy.h"
#include "dtrain/util/aligned_buffer.h"

namespace dtrain::nn {

// A batch as the network sees it. Rows past real_rows are padding (their gradient is zero),
// which lets a short batch reuse the primitives compiled for the full size.
struct BatchView {
  const float* images = nullptr;    // rows x C x H x W
  const int32_t* labels = nullptr;  // rows
  const int64_t* ids = nullptr;     // rows: global example ids (keys for dropout)
  int64_t rows = 0;
  int64_t real_rows = 0;
};

class Replica {
 public:
  explicit Replica(const Model& model);

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

  Network& network(int64_t batch, bool training);

 private:
  const Model& model_;
  DnnlContext ctx_;
  AlignedBuffer params_, grads_;
  std::map<std::pair<int64_t, bool>, std::unique_ptr<Network>> networks_;
  std::vector<float> diff_logits_;
};

}  // namespace dtrain::nn
