// conv1's backward-weights loops (nn/conv_ic1_backward_weights.h), compiled once per x86-64
// level (util/isa_level.h).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "nn/isa/loops.h"

#ifndef DTRAIN_ISA_NAMESPACE
#error "compiled once per x86-64 level by src/CMakeLists.txt, which names the namespace"
#endif

namespace dtrain::nn::DTRAIN_ISA_NAMESPACE {

namespace {

// Sixteen lanes of the compiler's generic vectors, lowered to what the target has (one
// AVX-512 register, two AVX ones): no ISA is named.
typedef float f32x16 __attribute__((vector_size(64)));
constexpr int kLanes = 16;
static_assert(kLanes == kIc1FilterMultiple);

// By reference, not by value: a 64-byte vector passed or returned by value changes the ABI
// where AVX-512 is absent, which GCC reports (-Wpsabi) and CI's -Werror refuses.
inline void load(f32x16& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}
inline void store(float* p, const f32x16& v) {
  std::memcpy(p, &v, sizeof v);
}

// Adds one image's gradients to acc ([kernel][kernel][filters]) and acc_b ([filters]).
// `padded` is the image with the SAME border as zeros: (h + K - 1) x (w + K - 1).
template <int K>
void accumulate_image(const Ic1ConvGeometry& g, const float* padded, const float* dy, float* acc,
                      float* acc_b) {
  const int64_t pw = g.w + K - 1, f = g.filters;
  for (int64_t oh = 0; oh < g.h; ++oh) {
    const float* dy_row = dy + oh * g.w * f;
    for (int64_t c = 0; c < f; c += kLanes) {
      f32x16 b, d;
      load(b, acc_b + c);
      for (int64_t ow = 0; ow < g.w; ++ow) {
        load(d, dy_row + ow * f + c);
        b += d;
      }
      store(acc_b + c, b);
      for (int kh = 0; kh < K; ++kh) {
        const int64_t ih = oh + kh - g.pad_top();
        if (ih < 0 || ih >= g.h) continue;  // a zero row of the border adds nothing
        const float* x = padded + (oh + kh) * pw;
        float* a_out = acc + kh * K * f + c;
        f32x16 a[K];
#pragma GCC unroll 8
        for (int kw = 0; kw < K; ++kw) load(a[kw], a_out + kw * f);
        for (int64_t ow = 0; ow < g.w; ++ow) {
          load(d, dy_row + ow * f + c);
#pragma GCC unroll 8
          for (int kw = 0; kw < K; ++kw) a[kw] += x[ow + kw] * d;
        }
#pragma GCC unroll 8
        for (int kw = 0; kw < K; ++kw) store(a_out + kw * f, a[kw]);
      }
    }
  }
}

using AccumulateFn = void (*)(const Ic1ConvGeometry&, const float*, const float*, float*, float*);

// The loops, compiled for each kernel size they take (the accumulators are registers).
constexpr AccumulateFn kAccumulate[] = {nullptr,
                                        accumulate_image<1>,
                                        accumulate_image<2>,
                                        accumulate_image<3>,
                                        accumulate_image<4>,
                                        accumulate_image<5>,
                                        accumulate_image<6>,
                                        accumulate_image<7>};

static_assert(std::size(kAccumulate) == kIc1MaxKernel + 1);

// One thread's share of the batch, added to partial ([kernel][kernel][filters], then the
// bias's [filters]), which starts at zero.
void accumulate_images(const Ic1ConvGeometry& g, int64_t begin, int64_t end, const float* src,
                       const float* diff_dst, float* partial) {
  const AccumulateFn accumulate = kAccumulate[g.kernel];
  const int64_t k = g.kernel, pw = g.w + k - 1, ph = g.h + k - 1, top = g.pad_top();
  std::vector<float> padded(static_cast<std::size_t>(ph * pw), 0.f);
  for (int64_t n = begin; n < end; ++n) {
    const float* image = src + n * g.h * g.w;
    for (int64_t ih = 0; ih < g.h; ++ih) {
      std::copy(image + ih * g.w, image + (ih + 1) * g.w, padded.data() + (ih + top) * pw + top);
    }
    accumulate(g, padded.data(), diff_dst + n * g.h * g.w * g.filters, partial,
               partial + k * k * g.filters);
  }
}

}  // namespace

void conv_ic1_partials(const Ic1ConvGeometry& g, int threads, const float* src,
                       const float* diff_dst, float* partials) {
  const int64_t per_thread = (g.kernel * g.kernel + 1) * g.filters;
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    accumulate_images(g, g.batch * t / nt, g.batch * (t + 1) / nt, src, diff_dst,
                      partials + t * per_thread);
  }
}

}  // namespace dtrain::nn::DTRAIN_ISA_NAMESPACE
