// 2-D max pooling, window k x k with stride k and no padding (TensorFlow's VALID), with an
// optional ReLU fused as a post-op. The training forward keeps oneDNN's workspace (argmax
// positions) for the backward pass.
//
// Why a ReLU here: max-pool and ReLU commute (max(relu(x)) = relu(max(x))), so the model moves a
// convolution's ReLU past the pool that follows it. The ReLU and its backward then touch a
// quarter of the elements, with the same result and the same gradients.
#pragma once

#include "nn/layer.h"

namespace dtrain::nn {

class MaxPool2D final : public Layer {
 public:
  MaxPool2D(std::string name, Shape in, int window, bool relu = false);
  std::string describe() const override;
  std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const override;
  int window() const { return window_; }
  bool relu() const { return relu_; }

 private:
  int window_;
  bool relu_;
};

}  // namespace dtrain::nn
