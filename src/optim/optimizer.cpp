#include "dtrain/optim/optimizer.h"

#include "dtrain/util/error.h"
#include "optim/adam.h"
#include "optim/sgd.h"

namespace dtrain::optim {

std::string to_string(OptimizerKind k) {
  return k == OptimizerKind::kAdam ? "adam" : "sgd";
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& c, std::size_t size) {
  if (c.kind == OptimizerKind::kAdam) {
    return std::make_unique<Adam>(size, c.beta1, c.beta2, c.epsilon, c.weight_decay);
  }
  return std::make_unique<Sgd>(size, c.momentum, c.nesterov, c.weight_decay);
}

void Optimizer::step(std::span<float> params, std::span<const float> grads, float lr,
                     float grad_scale) {
  const std::span<float> p[] = {params};
  const std::span<const float> g[] = {grads};
  step_pieces(p, g, lr, grad_scale);
}

void Optimizer::check_pieces(const std::string& name, std::span<const std::span<float>> params,
                             std::span<const std::span<const float>> grads, std::size_t size) {
  std::size_t total = 0;
  bool matched = params.size() == grads.size();
  for (std::size_t i = 0; matched && i < params.size(); ++i) {
    matched = params[i].size() == grads[i].size();
    total += params[i].size();
  }
  if (!matched || total != size) {
    throw Error(name + ": range of " + std::to_string(total) + " parameters" +
                (matched ? "" : " with gradients of other sizes") + ", built for " +
                std::to_string(size));
  }
}

NamedArrays snapshot_state(Optimizer& optimizer) {
  NamedArrays out;
  for (auto& [name, buffer] : optimizer.state())
    out.emplace_back(name, std::vector<float>(buffer->data(), buffer->data() + buffer->size()));
  return out;
}

void restore_state(Optimizer& optimizer, const NamedArrays& saved, std::int64_t steps) {
  for (auto& [name, buffer] : optimizer.state()) {
    for (const auto& [saved_name, values] : saved) {
      if (saved_name != name) continue;
      if (values.size() != buffer->size()) {
        throw Error("optimizer state '" + name + "' holds " + std::to_string(values.size()) +
                    " values; this optimizer keeps " + std::to_string(buffer->size()));
      }
      std::copy(values.begin(), values.end(), buffer->data());
    }
  }
  optimizer.set_steps(steps);
}

std::vector<std::string> state_names(OptimizerKind kind) {
  std::vector<std::string> names;
  for (auto& [name, buffer] : make_optimizer({.kind = kind}, 1)->state()) names.push_back(name);
  return names;
}

}  // namespace dtrain::optim
