// dtrain's own layer loops, one copy per x86-64 level (util/isa_level.h). Callers go through
// nn/max_pool_kernel.h and nn/conv_ic1_backward_weights.h, which pick the copy for the CPU;
// the unit tests call each copy the CPU can run, to show they give the same bits.
#pragma once

#include <cstdint>

#include "nn/conv_ic1_backward_weights.h"
#include "nn/max_pool_kernel.h"
#include "util/isa_level.h"

namespace dtrain::nn {

// conv1's loops keep one vector of 16 filters per accumulator, for kernels up to 7 wide.
inline constexpr int64_t kIc1FilterMultiple = 16;
inline constexpr int64_t kIc1MaxKernel = 7;

DTRAIN_ISA_DECLARE(
    // nn/max_pool_kernel.h: the forward, and the backward into diff_src in the input's layout
    // or (channels_last) nhwc.
    void pool_forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax,
                      bool relu);
    // The forward on bf16 activations (inference: no argmax).
    void pool_forward_bf16(const PoolGeometry& g, const uint16_t* src, uint16_t* dst, bool relu);
    void pool_backward(const PoolGeometry& g, const float* diff_dst, const uint8_t* argmax,
                       float* diff_src, bool channels_last);
    // Thread t of `threads` adds its share of the batch into partials + t * (k * k + 1) *
    // filters ([kh][kw][filter], then the bias's [filter]), which start at zero.
    void conv_ic1_partials(const Ic1ConvGeometry& g, int threads, const float* src,
                           const float* diff_dst, float* partials);)

}  // namespace dtrain::nn
