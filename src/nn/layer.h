// Layer: one step of the network, described once (shapes, parameters) and compiled per batch
// size into a LayerInstance that holds the oneDNN primitives and activations.
//
// A Layer registers its tensors in the model's ParameterLayout when it is built and knows only
// offsets; the instance binds those offsets to the flat parameter and gradient buffers, so
// weights the primitive can use in place are never copied.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "dtrain/nn/batch.h"
#include "dtrain/nn/parameter_layout.h"
#include "nn/dnnl_context.h"

namespace dtrain {
class Rng;
}

namespace dtrain::nn {

struct CompileArgs {
  DnnlContext* ctx = nullptr;
  int64_t batch = 0;
  bool training = false;
  bool need_diff_src = false;  // false for the first layer: nobody wants d(loss)/d(image)
  dnnl::memory::desc src_desc;
  float* params = nullptr;  // start of the flat parameter buffer
  float* grads = nullptr;   // start of the flat gradient buffer (training only)
};

class LayerInstance {
 public:
  virtual ~LayerInstance() = default;
  virtual dnnl::memory::desc dst_desc() const = 0;
  // Runs the layer on src (laid out as the compile-time src_desc) and returns its output.
  virtual const dnnl::memory& forward(const dnnl::memory& src, const StepContext& step) = 0;
  // Given d(loss)/d(output), writes parameter gradients into the flat gradient buffer and
  // returns d(loss)/d(input), or nullptr when need_diff_src was false.
  virtual const dnnl::memory* backward(const dnnl::memory& diff_dst) = 0;
  // The layout this layer's backward reads diff_dst in without a reorder (training only).
  virtual dnnl::memory::desc preferred_diff_dst() const { return dst_desc(); }
  // The layer before asks for its diff_dst in `want` (its preferred_diff_dst); a layer that
  // can write diff_src that way does, and saves that layer a reorder. Others ignore it.
  virtual void prefer_diff_src(const dnnl::memory::desc& want) { (void)want; }
};

class Layer {
 public:
  virtual ~Layer() = default;
  const std::string& name() const { return name_; }
  Shape in_shape() const { return in_; }
  Shape out_shape() const { return out_; }
  // The part of the flat buffers holding this layer's parameters (empty if none).
  ParamRange param_range() const { return range_; }
  virtual std::string describe() const = 0;
  // Multiply-accumulates per example in the forward pass (for FLOP counts).
  virtual int64_t forward_macs() const { return 0; }
  virtual void init_params(std::span<float> params, Rng& rng) const;
  virtual std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const = 0;

 protected:
  Layer(std::string name, Shape in, Shape out) : name_(std::move(name)), in_(in), out_(out) {}
  // Registers a tensor and widens range_ to cover it.
  std::size_t declare(ParameterLayout& layout, const std::string& tensor,
                      std::vector<int64_t> shape);

 private:
  std::string name_;
  Shape in_, out_;
  ParamRange range_;
};

// oneDNN dims of a batch of activations of the given shape: {n, c} or {n, c, h, w}.
dnnl::memory::dims activation_dims(int64_t batch, Shape s);

}  // namespace dtrain::nn
