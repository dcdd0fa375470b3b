// Adam (Kingma & Ba), in PyTorch's form: bias-corrected moments, epsilon added after sqrt.
#pragma once

#include "dtrain/optim/optimizer.h"

namespace dtrain::optim {

class Adam final : public Optimizer {
 public:
  Adam(std::size_t size, float beta1, float beta2, float epsilon, float weight_decay);
  void step_pieces(std::span<const std::span<float>> params,
                   std::span<const std::span<const float>> grads, float lr,
                   float grad_scale) override;
  std::string name() const override { return "adam"; }
  std::vector<std::pair<std::string, AlignedBuffer*>> state() override;

 private:
  float beta1_, beta2_, epsilon_, weight_decay_;
  AlignedBuffer m_, v_;
};

}  // namespace dtrain::optim
