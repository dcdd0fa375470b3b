// 2-D convolution, stride 1, SAME padding, with an optional fused ReLU.
//
// Parameters: "<name>/kernel" [filters, in_channels, k, k] (oihw) and "<name>/bias" [filters].
// oneDNN picks blocked layouts for activations and weights; the flat buffers keep the plain
// oihw order, and the tiny kernel is reordered each step rather than kept in two places.
#pragma once

#include "nn/layer.h"

namespace dtrain::nn {

class Conv2D final : public Layer {
 public:
  Conv2D(std::string name, Shape in, int kernel, int filters, bool relu, ParameterLayout& layout);
  std::string describe() const override;
  int64_t forward_macs() const override;
  void init_params(std::span<float> params, Rng& rng) const override;
  std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const override;

  int kernel() const { return kernel_; }
  int filters() const { return filters_; }
  bool relu() const { return relu_; }
  std::size_t kernel_offset() const { return kernel_offset_; }
  std::size_t bias_offset() const { return bias_offset_; }

 private:
  int kernel_, filters_;
  bool relu_;
  std::size_t kernel_offset_ = 0, bias_offset_ = 0;
};

}  // namespace dtrain::nn
