// Inverted dropout: in training each activation is kept with probability 1 - rate and scaled
// by 1 / (1 - rate); at inference the layer is the identity.
//
// The mask of a row is drawn from a generator keyed by (seed, global step, global example id),
// not by rank or row position, so one rank with batch B and N ranks sharing B draw the same
// masks, which is what makes synchronous training independent of the number of ranks.
#pragma once

#include "nn/layer.h"

namespace dtrain::nn {

class Dropout final : public Layer {
 public:
  Dropout(std::string name, Shape in, float rate);
  std::string describe() const override;
  std::unique_ptr<LayerInstance> compile(const CompileArgs& args) const override;
  float rate() const { return rate_; }

 private:
  float rate_;
};

// The keep/drop scale of each of `width` activations of one example (0 or 1/(1-rate)).
void dropout_mask(std::uint64_t seed, std::int64_t step, std::int64_t example_id, float rate,
                  std::span<float> out);

}  // namespace dtrain::nn
