#include "nn/conv_ic1_backward_weights.h"

#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dtrain/util/error.h"
#include "nn/isa/loops.h"

namespace dtrain::nn {

bool conv_ic1_backward_weights_supported(const Ic1ConvGeometry& g) {
  return g.batch > 0 && g.h > 0 && g.w > 0 && g.filters > 0 &&
         g.filters % kIc1FilterMultiple == 0 && g.kernel >= 1 && g.kernel <= kIc1MaxKernel;
}

void conv_ic1_backward_weights(const Ic1ConvGeometry& g, const float* src, const float* diff_dst,
                               float* diff_w, float* diff_b) {
  if (!conv_ic1_backward_weights_supported(g)) {
    throw Error("conv_ic1_backward_weights: unsupported geometry (kernel " +
                std::to_string(g.kernel) + ", " + std::to_string(g.filters) + " filters)");
  }
  const int64_t k = g.kernel, f = g.filters, per_thread = (k * k + 1) * f;
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), g.batch));
  std::vector<float> partials(static_cast<std::size_t>(threads * per_thread));
  static const auto partials_of = DTRAIN_ISA_PICK(conv_ic1_partials);
  partials_of(g, threads, src, diff_dst, partials.data());
  // Thread order, then [kh][kw][oc] -> oihw.
  for (int64_t oc = 0; oc < f; ++oc) {
    for (int64_t tap = 0; tap <= k * k; ++tap) {
      float sum = 0.f;
      for (int t = 0; t < threads; ++t)
        sum += partials[static_cast<std::size_t>(t * per_thread + tap * f + oc)];
      if (tap < k * k)
        diff_w[oc * k * k + tap] = sum;
      else
        diff_b[oc] = sum;
    }
  }
}

}  // namespace dtrain::nn
