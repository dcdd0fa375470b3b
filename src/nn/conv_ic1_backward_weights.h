// Backward-weights of a stride-1, SAME-padded convolution with a single input channel (the
// model's first layer), from the plain (n, h, w) image and a channels-last diff_dst.
//
// oneDNN 2.6 has no good kernel for ic = 1: its best, with channels-last tensors, ran this
// pass at 13% of the FMA peak (2.1 ms at batch 100, 2 threads, AMD EPYC with AVX-512; 22%,
// 3.1 ms on an AVX2 machine). The work is 25 multiply-adds of an image pixel into each
// output pixel's 32 channel gradients; here each (row, kernel row, 16 channels) keeps its k
// accumulators in registers while the row streams past once.
#pragma once

#include <cstdint>

namespace dtrain::nn {

struct Ic1ConvGeometry {
  int64_t batch = 0, h = 0, w = 0;  // the image; SAME padding keeps the output h x w
  int64_t filters = 0, kernel = 0;
  int64_t pad_top() const { return (kernel - 1) / 2; }  // as oneDNN pads SAME (left, top)
};

// Whether the loops below take this geometry: kernel 1..7, filters a multiple of 16.
bool conv_ic1_backward_weights_supported(const Ic1ConvGeometry& g);

// Overwrites diff_w (oihw: [filters][1][kernel][kernel]) and diff_b ([filters]) with the
// gradients summed over the batch. Splits the batch over the OpenMP threads and adds their
// partial sums in thread order, so a given thread count always gives the same bits.
void conv_ic1_backward_weights(const Ic1ConvGeometry& g, const float* src, const float* diff_dst,
                               float* diff_w, float* diff_b);

}  // namespace dtrain::nn
