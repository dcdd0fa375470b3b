#include "nn/init.h"

#include <cmath>

namespace dtrain::nn {

void glorot_uniform(std::span<float> w, int64_t fan_in, int64_t fan_out, Rng& rng) {
  const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
  for (float& x : w) x = (2.0f * rng.uniform() - 1.0f) * limit;
}

}  // namespace dtrain::nn
