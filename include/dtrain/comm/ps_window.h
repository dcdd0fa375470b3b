// The memory each parameter server exposes through one MPI window (MPI_Win_allocate), and the
// protocol on it. All sizes in bytes; displacement unit 1.
//
//   control  int64 words (below), per-worker clocks, per-worker statistics
//   slot 0..2   the published weights, triple-buffered; version v lives in slot v % 3
//   acc 0..1    the gradient accumulators, double-buffered; workers add into the active one
//
// Protocol (every operation on a shared word is a single atomic: SUM or REPLACE with NO_OP
// reads, never two different update ops on one word, as the default accumulate_ops
// "same_op_no_op" requires):
//  Pull:  read version v (NO_OP); Get slot v%3; read version again. The server writes slot
//         v%3 again only when producing v+3, which starts after publishing v+2, so the copy is
//         whole if the version moved by at most 1; otherwise the worker pulls again.
//  Push:  read active b; inflight[b] += 1; re-read active (if it changed, undo and retry with
//         the new one); Accumulate(SUM) the gradient into acc[b]; pushes[b] += 1; inflight[b] -= 1.
//  Drain: the server switches active to 1-b, waits until inflight[b] == 0 (every push that
//         saw b has landed or backed out), then reads acc[b] and pushes[b] locally, zeroes them,
//         steps its optimizer on the sum and publishes the next version. Every pushed gradient
//         is applied exactly once, whatever the interleaving: none is lost, none twice.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dtrain/comm/roles.h"
#include "dtrain/nn/parameter_layout.h"

namespace dtrain::comm {

struct PsLayout {
  enum Word : int {
    kVersion = 0,    // published weights version (REPLACE by server)
    kActive = 1,     // accumulator workers add into (REPLACE by server)
    kInflight0 = 2,  // pushes under way into acc 0 / acc 1 (SUM)
    kInflight1 = 3,
    kPushes0 = 4,  // pushes completed into acc 0 / acc 1 (SUM; zeroed by the server)
    kPushes1 = 5,
    kDone = 6,        // workers that have finished (SUM)
    kFinished = 7,    // 1 once the server has applied everything after all workers finished
    kApplied = 8,     // pushes applied so far (REPLACE by server)
    kCheckpoint = 9,  // checkpoint request number (REPLACE by the chief); the server answers
                      // each new number by sending its state to the chief
    kWords = 16
  };
  static constexpr int kStatsPerWorker = 8;  // doubles

  std::size_t shard_floats = 0;
  int workers = 0;

  static MPI_Aint word(int w) { return static_cast<MPI_Aint>(w) * 8; }
  MPI_Aint clock(int worker) const { return word(kWords) + static_cast<MPI_Aint>(worker) * 8; }
  MPI_Aint stats(int worker) const {
    return clock(workers) + static_cast<MPI_Aint>(worker) * kStatsPerWorker * 8;
  }
  MPI_Aint control_bytes() const { return (stats(workers) + 63) / 64 * 64; }
  MPI_Aint shard_bytes() const {
    return static_cast<MPI_Aint>((shard_floats * sizeof(float) + 63) / 64 * 64);
  }
  MPI_Aint slot(int64_t version) const { return control_bytes() + (version % 3) * shard_bytes(); }
  MPI_Aint acc(int64_t buffer) const { return control_bytes() + (3 + buffer) * shard_bytes(); }
  MPI_Aint total_bytes() const { return control_bytes() + 5 * shard_bytes(); }
};

// The window over all ranks: servers expose their layout, workers expose nothing. Every rank
// holds one passive-target epoch (lock_all) for the window's life.
class PsWindow {
 public:
  PsWindow(MPI_Comm comm, const Roles& roles, std::vector<nn::ParamRange> shards);  // collective
  ~PsWindow();                                                                      // collective
  PsWindow(const PsWindow&) = delete;
  PsWindow& operator=(const PsWindow&) = delete;

  MPI_Win win() const { return win_; }
  const Roles& roles() const { return roles_; }
  const std::vector<nn::ParamRange>& shards() const { return shards_; }
  const PsLayout& layout(int ps) const { return layouts_[static_cast<std::size_t>(ps)]; }
  // This server's own memory (servers only).
  std::byte* local() const { return base_; }
  // MPI_WIN_UNIFIED or MPI_WIN_SEPARATE.
  int memory_model() const { return model_; }

 private:
  Roles roles_;
  std::vector<nn::ParamRange> shards_;
  std::vector<PsLayout> layouts_;
  MPI_Win win_ = MPI_WIN_NULL;
  std::byte* base_ = nullptr;
  int model_ = 0;
};

}  // namespace dtrain::comm
