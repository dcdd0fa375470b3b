// Network: a Model compiled for one batch size: every layer's oneDNN primitives, created once
// and reused for every batch of that size, bound to a pair of flat buffers.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "dtrain/nn/model.h"
#include "nn/layer.h"

namespace dtrain::nn {

class Network {
 public:
  // grads may be null when training is false.
  Network(const Model& model, DnnlContext& ctx, int64_t batch, bool training, float* params,
          float* grads);

  int64_t batch() const { return batch_; }
  bool training() const { return training_; }
  // images: batch x C x H x W floats (NCHW). Returns the logits, batch x classes, row-major.
  const float* forward(const float* images, const StepContext& step);
  // diff_logits: batch x classes. Writes every parameter gradient into the flat buffer.
  void backward(const float* diff_logits, const GradientReadyFn& ready);
  // Layer `index`'s output from the last forward, plain row-major (batch x width).
  const float* activation(std::size_t index);

 private:
  const Model& model_;
  DnnlContext& ctx_;
  int64_t batch_;
  bool training_;
  std::vector<std::unique_ptr<LayerInstance>> layers_;
  std::vector<dnnl::memory> outputs_;
  dnnl::memory input_, diff_logits_, plain_;
  LayoutAdapter plain_adapter_;
};

}  // namespace dtrain::nn
