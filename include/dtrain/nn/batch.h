// What one training or evaluation step hands the network, and what it gets back. No oneDNN
// here: these are the types an embedding program and the data pipeline see.
#pragma once

#include <cstdint>
#include <functional>

#include "dtrain/nn/parameter_layout.h"

namespace dtrain::nn {

// Per-example activation shape. Dense outputs have h = w = 1 and are 2-D tensors.
struct Shape {
  int64_t c = 1, h = 1, w = 1;
  bool flat = false;  // true once a dense layer made the activation a vector
  int64_t size() const { return c * h * w; }
  bool operator==(const Shape&) const = default;
};

// A batch as the network sees it. Rows past real_rows are padding (their gradient is zero),
// which lets a short batch reuse the primitives compiled for the full size.
struct BatchView {
  const float* images = nullptr;    // rows x C x H x W, values in [0, 1]
  const int32_t* labels = nullptr;  // rows; may be null for unlabelled inference
  const int64_t* ids = nullptr;     // rows: global example ids (keys for dropout)
  int64_t rows = 0;
  int64_t real_rows = 0;
};

// What a step needs beyond tensors: keys for randomness that must not depend on the rank.
struct StepContext {
  std::uint64_t seed = 0;
  std::int64_t step = 0;                      // global step (same on every rank)
  const std::int64_t* example_ids = nullptr;  // global example id of each row of the batch
};

struct LossStats {
  double loss_sum = 0;  // sum over the real rows of -log p(label)
  int64_t correct = 0;  // real rows whose arg-max equals the label
};

// Called during backward as soon as a layer's parameter gradients are final. Backward runs
// last layer first, so ranges arrive from the end of the flat buffer towards its start.
using GradientReadyFn = std::function<void(ParamRange)>;

}  // namespace dtrain::nn
