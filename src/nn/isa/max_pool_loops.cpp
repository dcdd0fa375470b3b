// The 2x2 max pool's loops (nn/max_pool_kernel.h), compiled once per x86-64 level
// (util/isa_level.h).
#include <algorithm>
#include <cstring>

#include "nn/isa/loops.h"

#ifndef DTRAIN_ISA_NAMESPACE
#error "compiled once per x86-64 level by src/CMakeLists.txt, which names the namespace"
#endif

namespace dtrain::nn::DTRAIN_ISA_NAMESPACE {

namespace {

// Eight lanes of the compiler's generic vectors, lowered to whatever the target has (one AVX
// register, two SSE ones): no ISA is named here. Written out because GCC 12 vectorised the
// uint8 argmax selects of the plain loops at 8-16 bytes a time, which made the backward 5x
// slower than its stores (1.4 against 0.3 ms on conv1's output, batch 100, 2 threads).
// Vectors are kept inside each function, never passed: that would depend on the ABI's ISA.
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint8_t u8x8 __attribute__((vector_size(8)));
constexpr int kLanes = 8;

// bf16 activations (inference): a bf16 value is the upper half of an fp32 one, so the loops
// widen on load and keep the upper half on store. The maximum (or the ReLU's 0) is one of the
// inputs, so nothing is rounded.
typedef uint16_t u16x8 __attribute__((vector_size(16)));

// Vectors by reference (memory), never by value: see above.
inline void load8(const float* p, f32x8& v) {
  std::memcpy(&v, p, sizeof v);
}
inline void load8(const uint16_t* p, f32x8& v) {
  u16x8 h;
  std::memcpy(&h, p, sizeof h);
  v = reinterpret_cast<f32x8>(__builtin_convertvector(h, i32x8) << 16);
}
inline void store8(float* p, const f32x8& v) {
  std::memcpy(p, &v, sizeof v);
}
inline void store8(uint16_t* p, const f32x8& v) {
  const u16x8 h = __builtin_convertvector(reinterpret_cast<const i32x8&>(v) >> 16, u16x8);
  std::memcpy(p, &h, sizeof h);
}
inline float load1(const float* p) {
  return *p;
}
inline float load1(const uint16_t* p) {
  const uint32_t bits = uint32_t{*p} << 16;
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
inline void store1(float* p, float v) {
  *p = v;
}
inline void store1(uint16_t* p, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  *p = static_cast<uint16_t>(bits >> 16);
}

// One output row of one (image, channel block): B channels innermost, elements T (float or
// bf16's uint16_t).
template <int B, typename T>
void forward_row(const T* r0, const T* r1, T* y, uint8_t* arg, int64_t out_w, bool relu) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    const T* a = r0 + 2 * ow * B;
    const T* b = r1 + 2 * ow * B;
    if constexpr (B % kLanes == 0) {
      for (int c = 0; c < B; c += kLanes) {
        f32x8 x0, x1, x2, x3;
        load8(a + c, x0), load8(a + B + c, x1), load8(b + c, x2), load8(b + B + c, x3);
        const i32x8 none = {}, one = none + 1;
        f32x8 m = x0;
        i32x8 at = none, k = x1 > m;
        m = k ? x1 : m, at = k ? one : at;
        k = x2 > m, m = k ? x2 : m, at = k ? one + 1 : at;
        k = x3 > m, m = k ? x3 : m, at = k ? one + 2 : at;
        if (relu) k = m <= 0.f, m = k ? m - m : m, at = k ? none + kPoolNoGradient : at;
        store8(y + ow * B + c, m);
        const u8x8 packed = __builtin_convertvector(at, u8x8);
        if (arg) std::memcpy(arg + ow * B + c, &packed, sizeof packed);
      }
    } else {
      for (int c = 0; c < B; ++c) {
        float m = load1(a + c);
        uint8_t at = 0;
        if (const float v = load1(a + B + c); v > m) m = v, at = 1;
        if (const float v = load1(b + c); v > m) m = v, at = 2;
        if (const float v = load1(b + B + c); v > m) m = v, at = 3;
        if (relu && m <= 0.f) m = 0.f, at = kPoolNoGradient;
        store1(y + ow * B + c, m);
        if (arg) arg[ow * B + c] = at;
      }
    }
  }
}

// One output row back into two rows of diff_src, whose neighbouring pixels are `pixel` floats
// apart (B in the input's layout, the channel count in nhwc).
template <int B>
void backward_row(const float* dy, const uint8_t* arg, float* r0, float* r1, int64_t out_w,
                  int64_t pixel) {
  for (int64_t ow = 0; ow < out_w; ++ow) {
    float* a = r0 + 2 * ow * pixel;
    float* b = r1 + 2 * ow * pixel;
    const int64_t o = ow * B;
    if constexpr (B % kLanes == 0) {
      for (int c = 0; c < B; c += kLanes) {
        u8x8 packed;
        f32x8 g;
        std::memcpy(&packed, arg + o + c, sizeof packed);
        std::memcpy(&g, dy + o + c, sizeof g);
        const i32x8 at = __builtin_convertvector(packed, i32x8);
        const f32x8 zero = g - g, v0 = at == 0 ? g : zero, v1 = at == 1 ? g : zero,
                    v2 = at == 2 ? g : zero, v3 = at == 3 ? g : zero;
        std::memcpy(a + c, &v0, sizeof v0);
        std::memcpy(a + pixel + c, &v1, sizeof v1);
        std::memcpy(b + c, &v2, sizeof v2);
        std::memcpy(b + pixel + c, &v3, sizeof v3);
      }
    } else {
      for (int c = 0; c < B; ++c) {
        const float g = dy[o + c];
        const uint8_t at = arg[o + c];
        a[c] = at == 0 ? g : 0.f;
        a[pixel + c] = at == 1 ? g : 0.f;
        b[c] = at == 2 ? g : 0.f;
        b[pixel + c] = at == 3 ? g : 0.f;
      }
    }
  }
}

template <int B, typename T>
void forward(const PoolGeometry& g, const T* src, T* dst, uint8_t* argmax, bool relu) {
  const int64_t planes = g.batch * g.channel_blocks, oh_n = g.out_h(), ow_n = g.out_w();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const T* r0 = src + ((p * g.h) + 2 * oh) * g.w * B;
      const int64_t o = (p * oh_n + oh) * ow_n * B;
      forward_row<B>(r0, r0 + g.w * B, dst + o, argmax ? argmax + o : nullptr, ow_n, relu);
    }
  }
}

// Where diff_src's (image, channel block) planes start, and its row and pixel strides.
struct DiffSrcStrides {
  int64_t image, block, row, pixel;
};

template <int B>
void backward(const PoolGeometry& g, const float* dy, const uint8_t* argmax, float* dx,
              bool channels_last) {
  const int64_t planes = g.batch * g.channel_blocks, oh_n = g.out_h(), ow_n = g.out_w();
  const int64_t area = g.h * g.w, c_all = g.channels;
  const DiffSrcStrides s = channels_last
                               ? DiffSrcStrides{area * c_all, B, g.w * c_all, c_all}
                               : DiffSrcStrides{g.channel_blocks * area * B, area * B, g.w * B, B};
  // Odd sizes leave a last row or column outside every window: its gradient is 0.
  if (g.h % 2 != 0 || g.w % 2 != 0) std::fill_n(dx, g.batch * s.image, 0.f);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      const int64_t n = p / g.channel_blocks, cb = p % g.channel_blocks;
      float* r0 = dx + n * s.image + cb * s.block + 2 * oh * s.row;
      const int64_t o = (p * oh_n + oh) * ow_n * B;
      backward_row<B>(dy + o, argmax + o, r0, r0 + s.row, ow_n, s.pixel);
    }
  }
}

// The forward for the geometry's block width, on either element type.
template <typename T>
void forward_any_block(const PoolGeometry& g, const T* src, T* dst, uint8_t* argmax, bool relu) {
  switch (g.block) {
    case 1:
      return forward<1>(g, src, dst, argmax, relu);
    case 8:
      return forward<8>(g, src, dst, argmax, relu);
    default:
      return forward<16>(g, src, dst, argmax, relu);
  }
}

}  // namespace

void pool_forward(const PoolGeometry& g, const float* src, float* dst, uint8_t* argmax, bool relu) {
  forward_any_block(g, src, dst, argmax, relu);
}

void pool_forward_bf16(const PoolGeometry& g, const uint16_t* src, uint16_t* dst, bool relu) {
  forward_any_block(g, src, dst, nullptr, relu);
}

void pool_backward(const PoolGeometry& g, const float* diff_dst, const uint8_t* argmax,
                   float* diff_src, bool channels_last) {
  switch (g.block) {
    case 1:
      return backward<1>(g, diff_dst, argmax, diff_src, channels_last);
    case 8:
      return backward<8>(g, diff_dst, argmax, diff_src, channels_last);
    default:
      return backward<16>(g, diff_dst, argmax, diff_src, channels_last);
  }
}

}  // namespace dtrain::nn::DTRAIN_ISA_NAMESPACE
