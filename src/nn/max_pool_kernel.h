// A 2x2, stride-2 max pool (with its argmax and an optional fused ReLU) over fp32 activations
// (bf16 ones in inference) in the layouts oneDNN's convolutions hand it: plain nchw and
// channel-blocked nChw8c / nChw16c. oneDNN 2.6's pooling moved 2.1-2.5 GB/s on this model's
// activations (jit:avx2, 4.8 ms forward on conv1's 10 MB output at batch 100, 2 threads,
// measured on the AMD machine); these loops, one pass each way with the ReLU and its backward
// folded in, ran the same work 3x (forward) and 2x (backward) faster side by side. The
// backward then went from 2.7 ms plus a 1.05 ms reorder for conv1 to 1.1 ms in the step
// (generic vectors, ReLU in the argmax, diff_src written channels-last for conv1). Other
// windows and layouts stay on oneDNN (nn/max_pool2d.cpp chooses).
#pragma once

#include <cstdint>
#include <optional>

#include <oneapi/dnnl/dnnl.hpp>

namespace dtrain::nn {

struct PoolGeometry {
  int64_t batch = 0, channels = 0, channel_blocks = 0, h = 0, w = 0;  // input
  int block = 1;  // channels innermost: 1, 8 or 16 (channel_blocks * block >= channels)
  dnnl::memory::format_tag layout = dnnl::memory::format_tag::nchw;  // the tag of that block
  bool bf16 = false;  // elements: bf16 (inference, max_pool2x2_forward_bf16) or f32
  int64_t out_h() const { return h / 2; }
  int64_t out_w() const { return w / 2; }
  int64_t out_elements() const { return batch * channel_blocks * out_h() * out_w() * block; }
};

// The geometry of `src` if it is an f32 or bf16 layout these loops read (nchw, nChw8c,
// nChw16c).
std::optional<PoolGeometry> pool_geometry(const dnnl::memory::desc& src);

// argmax value of a window whose output the fused ReLU set to 0: no gradient flows back.
inline constexpr uint8_t kPoolNoGradient = 4;

// dst[.., oh, ow] = max over the 2x2 window (then max(0, .) with relu); argmax (may be null:
// inference) gets the window position 0..3 of the first maximum, or kPoolNoGradient.
void max_pool2x2_forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax,
                         bool relu);

// The forward on bf16 activations, for inference (no argmax): the output in the input's
// layout, exact (the maximum is one of the inputs). Halves the bytes the pools of a bf16
// network move, and the next layer reads bf16 without a conversion.
void max_pool2x2_forward_bf16(const PoolGeometry& g, const uint16_t* src, uint16_t* dst, bool relu);

// Whether max_pool2x2_backward can write diff_src in `layout`: the input's own layout, or
// channels-last (nhwc) when the channels fill whole blocks. Channels-last is what a
// single-channel convolution's backward-weights reads fastest (nn/conv2d.cpp); writing it here
// saves a reorder of the whole diff_src.
bool pool_writes_diff_src_as(const PoolGeometry& g, dnnl::memory::format_tag layout);

// diff_src (laid out as `layout`, see above) gets diff_dst at each window's argmax and 0
// elsewhere (rows and columns no window covers included).
void max_pool2x2_backward(const PoolGeometry& g, const float* diff_dst, const uint8_t* argmax,
                          float* diff_src, dnnl::memory::format_tag layout);

}  // namespace dtrain::nn
