// Model: the architecture (layers built from a ModelSpec for a given input shape) and its
// ParameterLayout. It owns no parameter values: those live in flat buffers owned by whoever
// trains or serves the model (a Replica on a worker, a ParameterShard on a PS).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "dtrain/nn/batch.h"
#include "dtrain/nn/model_spec.h"
#include "dtrain/nn/parameter_layout.h"

namespace dtrain::nn {

class Layer;  // src/nn/layer.h: the oneDNN side

class Model {
 public:
  Model(const ModelSpec& spec, Shape input, int num_classes);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelSpec& spec() const { return spec_; }
  const ParameterLayout& layout() const { return layout_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  Shape input_shape() const { return input_; }
  int num_classes() const { return classes_; }
  // Multiply-accumulates of one example's forward pass.
  int64_t forward_macs() const;
  // Glorot-uniform weights, zero biases; depends only on the seed.
  void init_params(std::span<float> params, std::uint64_t seed) const;
  // Index of the layer whose output is the "features": the last hidden dense activation.
  std::size_t feature_layer() const;
  // Values per example in layer `index`'s output.
  int64_t output_width(std::size_t index) const;
  std::string describe() const;

 private:
  ModelSpec spec_;
  Shape input_;
  int classes_;
  ParameterLayout layout_;
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace dtrain::nn
