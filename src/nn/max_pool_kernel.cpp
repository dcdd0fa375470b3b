#include "nn/max_pool_kernel.h"

#include <algorithm>
#include <cstring>

namespace dtrain::nn {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

std::optional<PoolGeometry> pool_geometry(const dnnl::memory::desc& src) {
  const dnnl::memory::dims d = src.dims();
  if (d.size() != 4 || src.data_type() != dt::f32) return std::nullopt;
  for (auto [t, block] : {std::pair{tag::nchw, 1}, {tag::nChw8c, 8}, {tag::nChw16c, 16}}) {
    if (src != dnnl::memory::desc(d, dt::f32, t)) continue;
    return PoolGeometry{d[0], (d[1] + block - 1) / block, d[2], d[3], block, t};
  }
  return std::nullopt;
}

namespace {

// One output row of one (image, channel block): B channels innermost, vectorised over them.
template <int B>
void forward_row(const float* r0, const float* r1, float* y, uint8_t* arg, int64_t out_w,
                 bool relu) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    const float* a = r0 + 2 * ow * B;
    const float* b = r1 + 2 * ow * B;
    float* yy = y + ow * B;
    uint8_t k[B];
#pragma omp simd
    for (int c = 0; c < B; ++c) {
      float m = a[c];
      uint8_t at = 0;
      if (a[B + c] > m) m = a[B + c], at = 1;
      if (b[c] > m) m = b[c], at = 2;
      if (b[B + c] > m) m = b[B + c], at = 3;
      yy[c] = relu ? std::max(m, 0.f) : m;
      k[c] = at;
    }
    if (arg) std::memcpy(arg + ow * B, k, B);
  }
}

template <int B>
void backward_row(const float* dy, const float* y, const uint8_t* arg, float* r0, float* r1,
                  int64_t out_w, bool relu) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    float* a = r0 + 2 * ow * B;
    float* b = r1 + 2 * ow * B;
    const int64_t o = ow * B;
#pragma omp simd
    for (int c = 0; c < B; ++c) {
      const float g = (!relu || y[o + c] > 0.f) ? dy[o + c] : 0.f;
      const uint8_t at = arg[o + c];
      a[c] = at == 0 ? g : 0.f;
      a[B + c] = at == 1 ? g : 0.f;
      b[c] = at == 2 ? g : 0.f;
      b[B + c] = at == 3 ? g : 0.f;
    }
  }
}

template <int B>
void forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax, bool relu) {
  const int64_t planes = g.batch * g.channel_blocks, oh_n = g.out_h(), ow_n = g.out_w();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const float* r0 = src + ((p * g.h) + 2 * oh) * g.w * B;
      const int64_t o = (p * oh_n + oh) * ow_n * B;
      forward_row<B>(r0, r0 + g.w * B, dst + o, argmax ? argmax + o : nullptr, ow_n, relu);
    }
  }
}

template <int B>
void backward(const PoolGeometry& g, const float* dy, const float* y, const uint8_t* argmax,
              float* dx, bool relu) {
  const int64_t planes = g.batch * g.channel_blocks, oh_n = g.out_h(), ow_n = g.out_w();
  // Odd sizes leave a last row or column outside every window: its gradient is 0.
  if (g.h % 2 != 0 || g.w % 2 != 0) std::fill_n(dx, planes * g.h * g.w * B, 0.f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      float* r0 = dx + ((p * g.h) + 2 * oh) * g.w * B;
      const int64_t o = (p * oh_n + oh) * ow_n * B;
      backward_row<B>(dy + o, y ? y + o : nullptr, argmax + o, r0, r0 + g.w * B, ow_n, relu);
    }
  }
}

}  // namespace

void max_pool2x2_forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax,
                         bool relu) {
  switch (g.block) {
    case 1:
      return forward<1>(g, src, dst, argmax, relu);
    case 8:
      return forward<8>(g, src, dst, argmax, relu);
    default:
      return forward<16>(g, src, dst, argmax, relu);
  }
}

void max_pool2x2_backward(const PoolGeometry& g, const float* diff_dst, const float* dst,
                          const uint8_t* argmax, float* diff_src, bool relu) {
  switch (g.block) {
    case 1:
      return backward<1>(g, diff_dst, dst, argmax, diff_src, relu);
    case 8:
      return backward<8>(g, diff_dst, dst, argmax, diff_src, relu);
    default:
      return backward<16>(g, diff_dst, dst, argmax, diff_src, relu);
  }
}

}  // namespace dtrain::nn
