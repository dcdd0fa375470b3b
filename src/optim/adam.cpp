#include "optim/adam.h"

#include <cmath>

#include "dtrain/util/error.h"

namespace dtrain::optim {

Adam::Adam(std::size_t size, float beta1, float beta2, float epsilon, float weight_decay)
    : beta1_(beta1),
      beta2_(beta2),
      epsilon_(epsilon),
      weight_decay_(weight_decay),
      m_(size),
      v_(size) {}

void Adam::step_pieces(std::span<const std::span<float>> params,
                       std::span<const std::span<const float>> grads, float lr, float grad_scale) {
  check_pieces("Adam", params, grads, m_.size());
  ++steps_;
  const double t = static_cast<double>(steps_);
  const auto bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1_), t));
  const auto bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2_), t));
  // p -= lr/bias1 * m / (sqrt(v)/sqrt(bias2) + eps), as torch.optim.Adam computes it.
  const float step_size = lr / bias1;
  const float inv_sqrt_bias2 = 1.0f / std::sqrt(bias2);
  const float b1 = beta1_, b2 = beta2_, eps = epsilon_, wd = weight_decay_;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < params.size(); ++k) {
    float* p = params[k].data();
    const float* g = grads[k].data();
    float* m = m_.data() + offset;
    float* v = v_.data() + offset;
    const auto n = static_cast<std::int64_t>(params[k].size());
#pragma omp parallel for simd schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const float gi = g[i] * grad_scale + wd * p[i];
      m[i] = b1 * m[i] + (1.0f - b1) * gi;
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bias2 + eps);
    }
    offset += params[k].size();
  }
}

std::vector<std::pair<std::string, AlignedBuffer*>> Adam::state() {
  return {{"m", &m_}, {"v", &v_}};
}

}  // namespace dtrain::optim
