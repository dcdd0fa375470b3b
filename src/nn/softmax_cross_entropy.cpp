#include "nn/softmax_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dtrain::nn {

LossStats softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t real_rows, int classes, float grad_scale, float* diff,
                                float* probs) {
  LossStats stats;
  std::vector<float> p(static_cast<std::size_t>(classes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = logits + r * classes;
    const bool real = r < real_rows;
    const float zmax = *std::max_element(z, z + classes);
    double sum = 0;
    for (int c = 0; c < classes; ++c) {
      p[c] = std::exp(z[c] - zmax);
      sum += p[c];
    }
    const auto inv = static_cast<float>(1.0 / sum);
    for (int c = 0; c < classes; ++c) p[c] *= inv;
    if (probs) std::copy(p.begin(), p.end(), probs + r * classes);
    if (real && labels != nullptr) {
      const int y = labels[r];
      // log p(y) = z[y] - zmax - log(sum): exact even when p[y] underflows to 0.
      stats.loss_sum -= static_cast<double>(z[y] - zmax) - std::log(sum);
      const int argmax = static_cast<int>(std::max_element(z, z + classes) - z);
      stats.correct += argmax == y;
    }
    if (diff) {
      float* d = diff + r * classes;
      for (int c = 0; c < classes; ++c) {
        d[c] = real ? grad_scale * (p[c] - (c == labels[r] ? 1.f : 0.f)) : 0.f;
      }
    }
  }
  return stats;
}

}  // namespace dtrain::nn
