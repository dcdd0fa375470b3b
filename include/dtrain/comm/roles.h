// Roles: which rank does what. In async mode ranks 0..K-1 are parameter servers and the rest
// are workers; in sync mode every rank is a worker; one rank alone trains locally. Worker 0 is
// the chief: it evaluates, logs and writes checkpoints.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dtrain::comm {

enum class Mode { kLocal, kAsync, kSync };
std::string to_string(Mode m);

struct Roles {
  Mode mode = Mode::kLocal;
  int rank = 0, size = 1;
  int num_ps = 0;

  bool is_ps() const { return mode == Mode::kAsync && rank < num_ps; }
  bool is_worker() const { return !is_ps(); }
  int num_workers() const { return size - num_ps; }
  // Index among the workers (0-based); -1 for a parameter server.
  int worker_index() const { return is_ps() ? -1 : rank - num_ps; }
  bool is_chief() const { return worker_index() == 0; }
  int chief_rank() const { return num_ps; }
  int worker_rank(int worker) const { return num_ps + worker; }
  std::string role_name(int r) const;

  // From the world size and the options (--dist: nullopt for the default, kAsync or kSync;
  // --num-ps). Throws OptionError, identically on every rank, when the combination cannot work.
  static Roles decide(int rank, int size, std::optional<Mode> dist, int num_ps);
};

}  // namespace dtrain::comm
