#include "dtrain/optim/lr_schedule.h"

#include <cmath>

namespace dtrain::optim {

float LrSchedule::at(std::int64_t step) const {
  if (decay_rate == 1.0f || decay_steps <= 0) return base;
  double e = static_cast<double>(step) / static_cast<double>(decay_steps);
  if (staircase) e = std::floor(e);
  return static_cast<float>(base * std::pow(static_cast<double>(decay_rate), e));
}

}  // namespace dtrain::optim
