#include "dtrain/nn/replica.h"

#include <algorithm>

#include "nn/dnnl_context.h"
#include "nn/network.h"
#include "nn/softmax_cross_entropy.h"
#include "util/timeline.h"

namespace dtrain::nn {

Replica::Replica(const Model& model, float* shared_params, Precision precision)
    : model_(model),
      ctx_(std::make_unique<DnnlContext>()),
      params_(shared_params ? AlignedBuffer::borrow(shared_params, model.layout().total())
                            : AlignedBuffer(model.layout().total())),
      grads_(model.layout().total()) {
  ctx_->precision = precision;
}

Replica::~Replica() = default;

Network& Replica::network(int64_t batch, bool training) {
  const std::pair key{batch, training};
  if (auto it = networks_.find(key); it != networks_.end()) {
    it->second.last_use = ++uses_;
    return *it->second.network;
  }
  if (networks_.size() >= kMaxNetworks) {
    networks_.erase(std::min_element(
        networks_.begin(), networks_.end(),
        [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; }));
  }
  // Primitive creation takes a first step's worth of time: named so the timeline accounts for it.
  TimelineSpan span("build network", "compute");
  CachedNetwork& slot = networks_[key];
  slot = {std::make_unique<Network>(model_, *ctx_, batch, training, params_.data(),
                                    training ? grads_.data() : nullptr),
          ++uses_};
  return *slot.network;
}

LossStats Replica::train_batch(const BatchView& b, const StepContext& step, float grad_scale,
                               const GradientReadyFn& ready) {
  Network& net = network(b.rows, true);
  StepContext s = step;
  s.example_ids = b.ids;
  const float* logits = nullptr;
  {
    TimelineSpan span("forward", "compute", step.step);
    logits = net.forward(b.images, s);
  }
  const int classes = model_.num_classes();
  diff_logits_.resize(static_cast<std::size_t>(b.rows * classes));
  LossStats stats;
  {
    TimelineSpan span("loss", "compute", step.step);
    stats = softmax_cross_entropy(logits, b.labels, b.rows, b.real_rows, classes, grad_scale,
                                  diff_logits_.data(), nullptr);
  }
  TimelineSpan span("backward", "compute", step.step);
  net.backward(diff_logits_.data(), ready);
  return stats;
}

LossStats Replica::eval_batch(const BatchView& b, float* probs, float* features) {
  Network& net = network(b.rows, false);
  const float* logits = net.forward(b.images, StepContext{});
  const LossStats stats = softmax_cross_entropy(logits, b.labels, b.rows, b.real_rows,
                                                model_.num_classes(), 0.f, nullptr, probs);
  if (features) {
    const std::size_t idx = model_.feature_layer();
    const float* f = net.activation(idx);
    const int64_t width = model_.output_width(idx);
    std::copy(f, f + b.rows * width, features);
  }
  return stats;
}

}  // namespace dtrain::nn
