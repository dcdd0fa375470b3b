#include "dtrain/nn/model.h"

#include <sstream>

#include "dtrain/util/error.h"
#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/max_pool2d.h"
#include "util/rng.h"

namespace dtrain::nn {

Model::Model(const ModelSpec& spec, Shape input, int num_classes)
    : spec_(spec), input_(input), classes_(num_classes) {
  Shape shape = input;
  int convs = 0, pools = 0, denses = 0, drops = 0;
  const auto& configs = spec.layers();
  using K = LayerConfig::Kind;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const LayerConfig& c = configs[i];
    std::unique_ptr<Layer> layer;
    // conv+ReLU then max-pool: the ReLU runs after the pool (they commute; a quarter the work).
    const bool relu_moves = c.kind == K::kConv && c.relu && i + 1 < configs.size() &&
                            configs[i + 1].kind == K::kMaxPool;
    const bool relu_arrives =
        c.kind == K::kMaxPool && i > 0 && configs[i - 1].kind == K::kConv && configs[i - 1].relu;
    switch (c.kind) {
      case K::kConv:
        layer = std::make_unique<Conv2D>("conv" + std::to_string(++convs), shape, c.size, c.filters,
                                         c.relu && !relu_moves, layout_);
        break;
      case K::kMaxPool:
        layer = std::make_unique<MaxPool2D>("pool" + std::to_string(++pools), shape, c.size,
                                            relu_arrives);
        break;
      case K::kDense:
        layer = std::make_unique<Dense>("dense" + std::to_string(++denses), shape, c.size, c.relu,
                                        layout_);
        break;
      case K::kDropout:
        layer = std::make_unique<Dropout>("dropout" + std::to_string(++drops), shape, c.rate);
        break;
    }
    shape = layer->out_shape();
    layers_.push_back(std::move(layer));
  }
  if (!shape.flat || shape.c != num_classes) {
    throw OptionError("--arch: the last layer has " + std::to_string(shape.c) +
                      " outputs but the data has " + std::to_string(num_classes) + " classes");
  }
}

Model::~Model() = default;

int64_t Model::output_width(std::size_t index) const {
  return layers_.at(index)->out_shape().size();
}

int64_t Model::forward_macs() const {
  int64_t macs = 0;
  for (const auto& l : layers_) macs += l->forward_macs();
  return macs;
}

void Model::init_params(std::span<float> params, std::uint64_t seed) const {
  if (params.size() != layout_.total()) throw Error("parameter buffer has the wrong size");
  std::fill(params.begin(), params.end(), 0.f);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Rng rng(key(seed, 0x1A7E5, i));  // each layer its own stream: adding a layer moves no other
    layers_[i]->init_params(params, rng);
  }
}

std::size_t Model::feature_layer() const {
  // The last layer producing a hidden vector: the output of the dense layer before the logits
  // (dropout is the identity at inference, so its output is the same vector).
  std::size_t idx = layers_.size() - 1;
  for (std::size_t i = 0; i + 1 < layers_.size(); ++i) {
    if (dynamic_cast<const Dense*>(layers_[i].get())) idx = i;
  }
  return idx;
}

std::string Model::describe() const {
  std::ostringstream out;
  out << "input " << input_.c << "x" << input_.h << "x" << input_.w << "\n";
  for (const auto& l : layers_) {
    const Shape s = l->out_shape();
    out << "  " << l->name() << ": " << l->describe() << " -> ";
    if (s.flat) {
      out << s.c;
    } else {
      out << s.c << "x" << s.h << "x" << s.w;
    }
    out << "\n";
  }
  out << "  softmax cross-entropy over " << classes_ << " classes\n";
  return out.str();
}

}  // namespace dtrain::nn
