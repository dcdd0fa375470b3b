// Learning-rate schedule: exponential decay, lr * rate^(step / decay_steps), optionally in
// whole steps of decay_steps (staircase), as tf.train.exponential_decay.
#pragma once

#include <cstdint>

namespace dtrain::optim {

struct LrSchedule {
  float base = 1e-3f;
  float decay_rate = 1.0f;  // 1 = constant
  std::int64_t decay_steps = 1;
  bool staircase = false;

  float at(std::int64_t step) const;
};

}  // namespace dtrain::optim
