// Roles: which rank does what. In async mode some ranks are parameter servers and the rest are
// workers; in sync mode every rank is a worker; one rank alone trains locally. Worker 0 (the
// lowest-ranked worker) is the chief: it evaluates, logs and writes checkpoints.
//
// Servers are placed by node: spread (the default) takes the first rank of each node in turn,
// so K servers sit on K different nodes before any node gets a second, and their network links
// add up; pack takes ranks 0..K-1. On one node both give ranks 0..K-1.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dtrain::comm {

enum class Mode { kLocal, kAsync, kSync };
std::string to_string(Mode m);

enum class PsPlacement { kSpread, kPack };

// How sync mode's gradients travel (--compress): fp32, or fp16 (comm/sync/fp16.h).
enum class Compression { kNone, kFp16 };
std::string to_string(Compression c);

// How sync mode reduces gradients and steps the optimizer (--exchange): chosen from measured
// links (auto), the optimizer sharded over the ranks, the whole optimizer on every rank with
// Open MPI's allreduce, or the whole optimizer with a ring allreduce (comm/exchange_model.h).
enum class ExchangeKind { kAuto, kSharded, kWhole, kRing };
std::string to_string(ExchangeKind e);

struct Roles {
  Mode mode = Mode::kLocal;
  int rank = 0, size = 1;
  int num_ps = 0;
  std::vector<int> ps_ranks;  // async: the rank serving each shard, in shard order

  // The shard index a rank serves, or -1.
  int ps_index(int r) const;
  int ps_rank(int ps) const { return ps_ranks[static_cast<std::size_t>(ps)]; }
  bool is_ps() const { return ps_index(rank) >= 0; }
  bool is_worker() const { return !is_ps(); }
  int num_workers() const { return size - num_ps; }
  // Index among the workers (in rank order); -1 for a parameter server.
  int worker_index(int r) const;
  int worker_index() const { return worker_index(rank); }
  int worker_rank(int worker) const;
  bool is_chief() const { return worker_index() == 0; }
  int chief_rank() const { return worker_rank(0); }
  std::string role_name(int r) const;

  // From the world size and the options (--dist: nullopt for the default, kAsync or kSync;
  // --num-ps; --ps-placement with the node of every rank). Throws OptionError, identically on
  // every rank, when the combination cannot work.
  static Roles decide(int rank, int size, std::optional<Mode> dist, int num_ps,
                      PsPlacement placement = PsPlacement::kPack,
                      const std::vector<int>& node_of_rank = {});
};

}  // namespace dtrain::comm
