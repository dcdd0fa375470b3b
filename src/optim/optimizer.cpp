#include "dtrain/optim/optimizer.h"

#include "dtrain/optim/adam.h"
#include "dtrain/optim/sgd.h"
#include "dtrain/util/error.h"

namespace dtrain::optim {

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c, std::size_t size) {
  if (c.name == "adam") {
    return std::make_unique<Adam>(size, c.beta1, c.beta2, c.epsilon, c.weight_decay);
  }
  if (c.name == "sgd") return std::make_unique<Sgd>(size, c.momentum, c.nesterov, c.weight_decay);
  throw OptionError("--optimizer: unknown optimizer '" + c.name + "' (expected adam or sgd)");
}

}  // namespace dtrain::optim
