// Evaluation of a replica on a whole data set, batched, without dropout. The last batch is
// padded, so one compiled network serves every batch. Shared, the ranks split the set (each its
// own contiguous part) and their sums are added: data-parallel evaluation.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "dtrain/data/example_source.h"
#include "dtrain/nn/replica.h"

namespace dtrain::train {

struct EvalResult {
  int64_t examples = 0;
  int64_t correct = 0;
  double loss_sum = 0;
  double seconds = 0;
  double accuracy() const { return examples ? static_cast<double>(correct) / examples : 0.0; }
  double loss() const { return examples ? loss_sum / examples : 0.0; }
};

// Who evaluates what: this rank all of it, or its share (`index` of `count` ranks) with the
// partial sums added over the ranks by `sum` (a collective: comm::polled_sum).
struct EvalShare {
  int index = 0, count = 1;
  std::function<void(std::span<double>)> sum = nullptr;
};

EvalResult evaluate(nn::Replica& replica, data::ExampleSource& source, int64_t batch,
                    const EvalShare& share = {});

}  // namespace dtrain::train
