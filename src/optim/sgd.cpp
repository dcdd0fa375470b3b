#include "optim/sgd.h"

#include "dtrain/util/error.h"

namespace dtrain::optim {

Sgd::Sgd(std::size_t size, float momentum, bool nesterov, float weight_decay)
    : momentum_(momentum), nesterov_(nesterov), weight_decay_(weight_decay), velocity_(size) {}

void Sgd::step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale) {
  if (params.size() != velocity_.size() || grads.size() != velocity_.size()) {
    throw Error("SGD: range of " + std::to_string(params.size()) + " parameters, built for " +
                std::to_string(velocity_.size()));
  }
  ++steps_;
  const float mu = momentum_, wd = weight_decay_;
  const bool nesterov = nesterov_;
  float* p = params.data();
  const float* g = grads.data();
  float* v = velocity_.data();
  const auto n = static_cast<std::int64_t>(params.size());
#pragma omp parallel for simd schedule(static)
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * grad_scale + wd * p[i];
    v[i] = mu * v[i] + gi;
    p[i] -= lr * (nesterov ? gi + mu * v[i] : v[i]);
  }
}

std::vector<std::pair<std::string, AlignedBuffer*>> Sgd::state() {
  return {{"velocity", &velocity_}};
}

}  // namespace dtrain::optim
