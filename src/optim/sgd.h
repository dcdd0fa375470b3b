// SGD with momentum, PyTorch's form: v = momentum * v + g; p -= lr * v
// (Nesterov: p -= lr * (g + momentum * v)).
#pragma once

#include "dtrain/optim/optimizer.h"

namespace dtrain::optim {

class Sgd final : public Optimizer {
 public:
  Sgd(std::size_t size, float momentum, bool nesterov, float weight_decay);
  void step_pieces(std::span<const std::span<float>> params,
                   std::span<const std::span<const float>> grads, float lr,
                   float grad_scale) override;
  std::string name() const override { return "sgd"; }
  std::vector<std::pair<std::string, AlignedBuffer*>> state() override;

 private:
  float momentum_;
  bool nesterov_;
  float weight_decay_;
  AlignedBuffer velocity_;
};

}  // namespace dtrain::optim
