#include "optim/adam.h"

#include <cmath>

#include "dtrain/util/error.h"
#include "optim/isa/adam_loop.h"

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
  const AdamCoefficients c{
      beta1_, beta2_, epsilon_, weight_decay_, lr / bias1, 1.0f / std::sqrt(bias2), grad_scale};
  static const auto update = DTRAIN_ISA_PICK(adam_update);
  std::size_t offset = 0;
  for (std::size_t k = 0; k < params.size(); ++k) {
    update(params[k].data(), grads[k].data(), m_.data() + offset, v_.data() + offset,
           static_cast<std::int64_t>(params[k].size()), c);
    offset += params[k].size();
  }
}

std::vector<std::pair<std::string, AlignedBuffer*>> Adam::state() {
  return {{"m", &m_}, {"v", &v_}};
}

}  // namespace dtrain::optim
