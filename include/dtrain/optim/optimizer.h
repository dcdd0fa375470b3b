// Optimizer: updates a flat range of parameters from the matching range of gradients.
//
// An optimizer is built for a range size and keeps its state (moments, step count) for exactly
// that range, so a worker can own one for the whole model and a parameter server one for its
// shard. State is exposed as named flat arrays for checkpoints.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dtrain/util/aligned_buffer.h"

namespace dtrain::optim {

enum class OptimizerKind { kAdam, kSgd };
std::string to_string(OptimizerKind k);  // "adam", "sgd"

// Named flat state arrays (e.g. "m", "v"), as checkpoints hold them.
using NamedArrays = std::vector<std::pair<std::string, std::vector<float>>>;

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdam;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // Adam
  float momentum = 0.9f;                                // SGD
  bool nesterov = false;                                // SGD
  float weight_decay = 0.f;                             // L2 added to the gradient (both)
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // params -= update(grads * grad_scale). Both spans have the size given at construction.
  void step(std::span<float> params, std::span<const float> grads, float lr, float grad_scale);
  // The same step over a range held in pieces: params[i] and grads[i] have the same size, and
  // the pieces in order make up the range (the state stays one contiguous array). The sharded
  // sync exchange steps its pieces where they sit in the flat parameters, without a copy.
  virtual void step_pieces(std::span<const std::span<float>> params,
                           std::span<const std::span<const float>> grads, float lr,
                           float grad_scale) = 0;
  virtual std::string name() const = 0;
  // Number of step() calls so far (Adam's bias correction depends on it).
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t s) { steps_ = s; }
  // Named state arrays, each the size of the range (e.g. "m", "v"); mutable for restore.
  virtual std::vector<std::pair<std::string, AlignedBuffer*>> state() = 0;

 protected:
  // Throws an Error naming the optimizer unless the pieces match in size and sum to `size`.
  static void check_pieces(const std::string& name, std::span<const std::span<float>> params,
                           std::span<const std::span<const float>> grads, std::size_t size);
  std::int64_t steps_ = 0;
};

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config, std::size_t size);

// A copy of the optimizer's state arrays.
NamedArrays snapshot_state(Optimizer& optimizer);
// Copies saved arrays into the state of the same names and sets the step count. An array of
// the wrong size is an Error naming it; a state the saved set lacks keeps its initial values.
void restore_state(Optimizer& optimizer, const NamedArrays& saved, std::int64_t steps);
// The names of the state arrays an optimizer of this kind keeps.
std::vector<std::string> state_names(OptimizerKind kind);

}  // namespace dtrain::optim
