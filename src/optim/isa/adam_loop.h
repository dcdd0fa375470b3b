// Adam's element loop, one copy per x86-64 level (util/isa_level.h); optim/adam.cpp picks one.
#pragma once

#include <cstdint>

#include "util/isa_level.h"

namespace dtrain::optim {

struct AdamCoefficients {
  float beta1, beta2, epsilon, weight_decay;
  float step_size;       // lr / (1 - beta1^t)
  float inv_sqrt_bias2;  // 1 / sqrt(1 - beta2^t)
  float grad_scale;
};

DTRAIN_ISA_DECLARE(
    // p -= step_size * m / (sqrt(v) * inv_sqrt_bias2 + eps), after updating m and v from
    // g * grad_scale + weight_decay * p; n elements, over the OpenMP threads.
    void adam_update(float* p, const float* g, float* m, float* v, int64_t n,
                     const AdamCoefficients& c);)

}  // namespace dtrain::optim
