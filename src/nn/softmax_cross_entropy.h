// Softmax cross-entropy on logits, computed through a max-shifted log-sum-exp so that large
// logits neither overflow nor lose the small probabilities.
#pragma once

#include <cstdint>

#include "dtrain/nn/batch.h"

namespace dtrain::nn {

// logits: rows x classes, row-major. Only the first `real_rows` rows count; the rest are
// padding whose gradient is exactly zero. When diff is non-null it receives
// grad_scale * (softmax - onehot) for real rows. When probs is non-null it receives softmax.
// labels may be null (unlabelled inference): then no loss is computed and diff must be null.
LossStats softmax_cross_entropy(const float* logits, const int32_t* labels, int64_t rows,
                                int64_t real_rows, int classes, float grad_scale, float* diff,
                                float* probs);

}  // namespace dtrain::nn
