// Adam's element loop (optim/isa/adam_loop.h), compiled once per x86-64 level.
#include "optim/isa/adam_loop.h"

#include <cmath>

#ifndef DTRAIN_ISA_NAMESPACE
#error "compiled once per x86-64 level by src/CMakeLists.txt, which names the namespace"
#endif

namespace dtrain::optim::DTRAIN_ISA_NAMESPACE {

void adam_update(float* p, const float* g, float* m, float* v, int64_t n,
                 const AdamCoefficients& c) {
  const float b1 = c.beta1, b2 = c.beta2, eps = c.epsilon, wd = c.weight_decay;
  const float step_size = c.step_size, inv_sqrt_bias2 = c.inv_sqrt_bias2, scale = c.grad_scale;
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * scale + wd * p[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bias2 + eps);
  }
}

}  // namespace dtrain::optim::DTRAIN_ISA_NAMESPACE
