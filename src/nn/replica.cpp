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
  last_use_[key] = ++uses_;
  auto it = networks_.find(key);
  if (it != networks_.end()) return *it->second;
  if (networks_.size() >= kMaxNetworks) {
    const auto oldest = std::min_element(
        networks_.begin(), networks_.end(),
        [&](const auto& a, const auto& b) { return last_use_[a.first] < last_use_[b.first]; });
    last_use_.erase(oldest->first);
    networks_.erase(oldest);
  }
  // Primitive creation takes a first step's worth of time: named so the timeline accounts for it.
  TimelineSpan span("build network", "compute");
  auto net = std::make_unique<Network>(model_, *ctx_, batch, training, params_.data(),
                                       training ? grads_.data() : nullptr);
  return *networks_.emplace(key, std::move(net)).first->second;
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
