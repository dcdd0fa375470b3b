// Weight initialisation: Glorot (Xavier) uniform weights and zero biases, the defaults of
// tf.layers that the reference model uses.
#pragma once

#include <cstdint>
#include <span>

#include "util/rng.h"

namespace dtrain::nn {

void glorot_uniform(std::span<float> w, int64_t fan_in, int64_t fan_out, Rng& rng);

}  // namespace dtrain::nn
