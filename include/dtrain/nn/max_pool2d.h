// 2-D max pooling, window k x k with stride k and no padding (TensorFlow's VALID).
// The training forward keeps oneDNN's workspace (argmax positions) for the backward pass.
#pragma once

#include "dtrain/nn/layer.h"

namespace dtrain::nn {

class MaxPool2D final : public Layer {
 public:
  MaxPool2D(std::string name, Shape in, int window);
  std::string describe() const override;
  std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const override;
  int window() const { return window_; }

 private:
  int window_;
};

}  // namespace dtrain::nn
