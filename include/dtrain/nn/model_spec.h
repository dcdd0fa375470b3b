// ModelSpec: a network written as a list of layers, e.g.
//   conv:5:32:relu,maxpool:2,conv:5:64:relu,maxpool:2,dense:1024:relu,dropout:0.4,dense:10
// Layer tokens: conv:K:FILTERS[:relu]  maxpool:K  dense:UNITS[:relu]  dropout:RATE
// A few presets have names ("cnn", the default MNIST CNN; "mlp"); see presets().
#pragma once

#include <string>
#include <vector>

namespace dtrain::nn {

struct LayerConfig {
  enum class Kind { kConv, kMaxPool, kDense, kDropout };
  Kind kind;
  int size = 0;      // conv kernel, pool window, dense units
  int filters = 0;   // conv only
  float rate = 0.f;  // dropout only
  bool relu = false;
};

class ModelSpec {
 public:
  // Accepts a preset name or a layer list; throws OptionError naming what is wrong.
  static ModelSpec parse(const std::string& text);
  static const std::vector<std::pair<std::string, std::string>>& presets();

  const std::vector<LayerConfig>& layers() const { return layers_; }
  // The canonical layer-list form (what a checkpoint records).
  std::string text() const;

 private:
  std::vector<LayerConfig> layers_;
};

}  // namespace dtrain::nn
