// Fully connected layer (oneDNN inner product) with an optional fused ReLU.
//
// Parameters: "<name>/kernel" [units, inputs] and "<name>/bias" [units]. When the input is an
// image-shaped activation the kernel is [units, c, h, w]: the input is flattened in c,h,w order.
// Weights and their gradients are used in place in the flat buffers (plain layout), so the
// largest tensor of the model is never copied or reordered.
#pragma once

#include "nn/layer.h"

namespace dtrain::nn {

class Dense final : public Layer {
 public:
  Dense(std::string name, Shape in, int units, bool relu, ParameterLayout& layout);
  std::string describe() const override;
  int64_t forward_macs() const override;
  void init_params(std::span<float> params, Rng& rng) const override;
  std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const override;

  int units() const { return units_; }
  bool relu() const { return relu_; }
  std::size_t kernel_offset() const { return kernel_offset_; }
  std::size_t bias_offset() const { return bias_offset_; }

 private:
  int units_;
  bool relu_;
  std::size_t kernel_offset_ = 0, bias_offset_ = 0;
};

}  // namespace dtrain::nn
