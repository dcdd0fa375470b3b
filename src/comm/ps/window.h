// The parameter-server protocol: the memory each server exposes through one MPI window, and
// every operation on it. This comment is the one description of the protocol; the README links
// here.
//
// Layout (bytes, displacement unit 1), one window over all ranks, memory on servers only:
//   control words   int64 (Word below)
//   worker clocks   int64 per worker: steps the worker has completed, pushes included
//   worker records  WorkerRecord per worker: the worker's totals, written when it finishes
//   worker compute  2 doubles per worker: its compute seconds and rows so far (every 10 steps,
//                   for the chief's straggler watch, train/straggler_watch.h)
//   slot 0..2       published weights, triple-buffered: version v lives in slot v % 3
//   acc 0..1        gradient accumulators, double-buffered: workers add into the active one
//   acc 2           the hold: pushes of steps past a node-local cut the server has not taken
// Clocks, records and the agreement words live on server 0 only (the others leave them unused).
//
// Rules: every shared word is changed by one operation only (SUM, or REPLACE by one writer),
// read with NO_OP, as the default accumulate_ops "same_op_no_op" requires. Workers use MPI
// atomics (MPI_Rget_accumulate, remote-complete on return) and bulk MPI_Accumulate/MPI_Rget. A
// server touches its own window with loads, stores and MPI_Win_sync only (the unified memory
// model), never with RMA calls on itself: Open MPI's osc/ucx hangs and osc/pt2pt never
// completes request-based RMA to self.
//
// Pull (worker):  v = version; Get slot v%3; v' = version. The server rewrites slot v%3 only
//   when producing v+3, begun after publishing v+2, so the copy is whole if v' - v <= 1;
//   otherwise pull again.
// Push (worker):  b = active; inflight[b] += 1; re-read active (changed: inflight[b] -= 1 and
//   retry with the new one); Accumulate(SUM) the gradient range into acc[b]; flush;
//   pushes[b] += 1; inflight[b] -= 1; then clock += 1 on server 0.
// Drain (server): active = 1-b; wait until inflight[b] == 0 (every push that saw b has landed
//   or backed out); step the optimizer once on acc[b] (the sum of pushes[b] pushes) with the
//   learning rate of `applied`; zero acc[b] and pushes[b]; write slot version+1; publish the
//   version; applied += pushes[b]; publish applied and the rate used. Every pushed gradient is
//   applied exactly once, whatever the interleaving.
// Checkpoint (chief -> every server): checkpoint = n (REPLACE). A server seeing a new n drains
//   both accumulators until no push is pending, then sends its weights, optimizer state,
//   applied count and optimizer step count to the chief (MPI_Send, kCheckpointTag).
// Node-local checkpoint: a cut, not a pause. The chief agrees a step S like a checkpoint
//   (kind local alone), but no worker waits there: each server is to keep the state holding
//   every worker's pushes of steps 1..S and none after. At S the chief sets
//   local_checkpoint = S (REPLACE) on every server. A worker that has read the agreed S
//   pushes each step > S to a server whose cut_taken < S into the hold instead:
//   inflight_hold += 1; re-read cut_taken (taken meanwhile: inflight_hold -= 1 and push as
//   usual); Accumulate into acc 2; flush; pushes_hold += 1; inflight_hold -= 1. A server with
//   a new S waits (serving as usual) until every clock is >= S: every push of a step <= S has
//   then landed in acc 0/1, and none after it can. It drains acc 0/1, hands a copy of its
//   shard's state and counters to its node-local level (written and sent to its partner in the
//   background), sets cut_taken = S, waits until inflight_hold == 0, applies the hold as one
//   drain, and tells the chief (MPI_Send of S and the seconds it took, kLocalCheckpointTag).
//   The chief keeps the step's facts once every server has, then sets checkpoint_done = S and
//   agreed = 0. Faster workers only see weights without their held pushes for a while (more
//   staleness, within --max-staleness); every push is still applied exactly once.
// Agreed step (workers, on server 0): a worker that gets a stop or checkpoint request from its
//   scheduler adds 1 to stop_requests or checkpoint_requests. The chief, between its steps,
//   sees new requests (or wants a checkpoint itself) and chooses the step S at which every
//   worker acts: agreed = kChoosing; read every clock; S = max(own clock, other clocks + 1),
//   at most the last step; agreed = AgreedStep(S, kind).word(). A worker reads agreed after
//   publishing its clock: kChoosing means wait; a worker that read it before kChoosing landed is at
//   most one step past the clock the chief then reads, so no worker passes S. At S, workers stop
//   (kind stop) or wait until checkpoint_done >= S (kind checkpoint); the chief waits until every
//   clock is >= S, so every push of every step up to S is in the checkpoint, gathers it from
//   the servers, then sets checkpoint_done = S and agreed = 0. Kind local alone: the cut above.
//   The chief proposes nothing while an agreed step is set, so one cut is under way at most.
// Staleness bound (--max-staleness S): before step c a worker waits until every unfinished
//   worker's clock is >= c - S. A resumed worker publishes its clock before anyone waits.
// Work taken (--balance speed): the job's work is a sequence of chunks, chunk g being worker
//   slice g % W of global step g / W (what worker g % W would read at that step with an even
//   share). A worker takes the next chunk with a fetch-and-add of 1 on chunks_taken (server 0;
//   the run's first chunk is the resumed step x W), so every chunk is taken exactly once and a
//   faster worker takes more. It trains its chunks in the order taken; its clock is then the
//   global step of the oldest chunk it holds (the one it trains; the job's last step once it
//   holds none), published before it trains that chunk and after the push of the one before.
//   A worker's first chunks come before any agreed step can name a step: it takes them,
//   publishes its clock, then adds 1 to workers_holding; the chief trains only once all have.
//   So everything above holds with "step" read as "global step of the chunk": clocks >= S
//   means every chunk of a step < S has been pushed; the chief's S = max(own, clocks + 1)
//   covers the chunk each worker trains; a worker acts on an agreed S after its last chunk of
//   a step < S, before the first of a step >= S (for an even share the same: S is its step);
//   at its last chunk the chief agrees the job's last step. A checkpoint then holds exactly
//   the chunks of the steps before S: its workers are recorded at S (their sum the pushes), and
//   a resume takes chunks from S x W on, so the chunks a worker held beyond S (or a lost
//   worker held) are taken again and every example is still read once per epoch.
// Finish: a worker writes its WorkerRecord, then adds 1 to done on every server. A server
//   whose done count equals the number of workers takes a cut still pending, drains what is
//   left, sets finished = 1 and returns.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dtrain/comm/roles.h"
#include "dtrain/nn/parameter_layout.h"

namespace dtrain::comm {

// What a worker leaves on server 0 when it finishes (doubles in the window).
struct WorkerRecord {
  double finished = 0;  // 1 once the worker's last push has completed
  double images = 0, train_seconds = 0;
  double staleness_sum = 0, staleness_max = 0, staleness_count = 0;
  double pull_retries = 0, staleness_wait_seconds = 0;
  static constexpr int kDoubles = 8;

  std::vector<double> to_doubles() const {
    return {finished,      images,          train_seconds, staleness_sum,
            staleness_max, staleness_count, pull_retries,  staleness_wait_seconds};
  }
  static WorkerRecord from_doubles(const std::vector<double>& v) {
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  }
};

struct PsLayout {
  enum Word : int {
    kVersion = 0,    // published weights version (server)
    kActive = 1,     // accumulator workers add into (server)
    kInflight0 = 2,  // pushes under way into acc 0 / acc 1 (SUM)
    kInflight1 = 3,
    kPushes0 = 4,  // pushes completed into acc 0 / acc 1 (SUM; zeroed by the server)
    kPushes1 = 5,
    kDone = 6,                 // workers that have finished (SUM)
    kFinished = 7,             // 1 once the server has applied everything (server)
    kApplied = 8,              // pushes applied so far (server)
    kCheckpoint = 9,           // checkpoint request number (chief)
    kLearningRate = 10,        // float bits of the rate of the last drain (server)
    kStopRequests = 11,        // server 0: stop requests from schedulers (SUM)
    kCheckpointRequests = 12,  // server 0: checkpoint requests from schedulers (SUM)
    kAgreed = 13,              // server 0: AgreedStep's word (chief)
    kCheckpointDone = 14,      // server 0: step of the last agreed checkpoint written (chief)
    kLocalCheckpoint = 15,     // step of the node-local checkpoint asked for (chief)
    kInflightHold = 16,        // pushes under way into the hold (SUM)
    kPushesHold = 17,          // pushes completed into the hold (SUM; zeroed by the server)
    kCutTaken = 18,            // the last node-local cut this server kept (server)
    kChunksTaken = 19,         // server 0: chunks of work taken by the workers (SUM)
    kWorkersHolding = 20,      // server 0: workers that have taken their first chunks (SUM)
    kWords = 21
  };
  static constexpr int64_t kHold = 2;  // the accumulator of pushes past a cut not yet taken

  std::size_t shard_floats = 0;
  int workers = 0;

  static MPI_Aint word(int w) { return static_cast<MPI_Aint>(w) * 8; }
  MPI_Aint clock(int worker) const { return word(kWords) + static_cast<MPI_Aint>(worker) * 8; }
  MPI_Aint record(int worker) const {
    return clock(workers) + static_cast<MPI_Aint>(worker) * WorkerRecord::kDoubles * 8;
  }
  MPI_Aint compute(int worker) const {
    return record(workers) + static_cast<MPI_Aint>(worker) * 16;
  }
  MPI_Aint control_bytes() const { return (compute(workers) + 63) / 64 * 64; }
  MPI_Aint shard_bytes() const {
    return static_cast<MPI_Aint>((shard_floats * sizeof(float) + 63) / 64 * 64);
  }
  MPI_Aint slot(int64_t version) const { return control_bytes() + (version % 3) * shard_bytes(); }
  MPI_Aint acc(int64_t buffer) const { return control_bytes() + (3 + buffer) * shard_bytes(); }
  MPI_Aint total_bytes() const { return control_bytes() + 6 * shard_bytes(); }
};

// The window over all ranks: servers expose their layout, workers expose nothing. Every rank
// holds one passive-target epoch (lock_all) for the window's life. Creation and freeing are
// collective; both are guarded by the caller's watchdog.
class PsWindow {
 public:
  PsWindow(MPI_Comm comm, const Roles& roles, std::vector<nn::ParamRange> shards);
  ~PsWindow();
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
