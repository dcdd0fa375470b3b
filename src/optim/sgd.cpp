#include "optim/sgd.h"

#include "dtrain/util/error.h"

namespace dtrain::optim {

Sgd::Sgd(std::size_t size, float momentum, bool nesterov, float weight_decay)
    : momentum_(momentum), nesterov_(nesterov), weight_decay_(weight_decay), velocity_(size) {}

void Sgd::step_pieces(std::span<const std::span<float>> params,
                      std::span<const std::span<const float>> grads, float lr, float grad_scale) {
  check_pieces("SGD", params, grads, velocity_.size());
  ++steps_;
  const float mu = momentum_, wd = weight_decay_;
  const bool nesterov = nesterov_;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < params.size(); ++k) {
    float* p = params[k].data();
    const float* g = grads[k].data();
    float* v = velocity_.data() + offset;
    const auto n = static_cast<std::int64_t>(params[k].size());
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const float gi = g[i] * grad_scale + wd * p[i];
      v[i] = mu * v[i] + gi;
      p[i] -= lr * (nesterov ? gi + mu * v[i] : v[i]);
    }
    offset += params[k].size();
  }
}

std::vector<std::pair<std::string, AlignedBuffer*>> Sgd::state() {
  return {{"velocity", &velocity_}};
}

}  // namespace dtrain::optim
