// ParameterServerClient (async mode, on a worker): before each step it pulls the current
// weights of every shard straight into the replica's flat parameter buffer; after backward it
// pushes each shard's range of the flat gradient buffer into that server's accumulator. With
// --max-staleness S it first waits until no worker is more than S steps behind this one (stale
// synchronous parallel); the staleness it actually sees (server versions between its pull and
// its push) is counted for the metrics. Checkpoints and stops happen at a step all workers
// agree on. The protocol is described in comm/ps/window.h.
#pragma once

#include <array>
#include <deque>
#include <optional>

#include "comm/ps/agreed_step.h"
#include "comm/ps/window.h"
#include "comm/rma.h"
#include "dtrain/comm/gradient_exchange.h"

namespace dtrain::comm {

// One server's part of a gathered checkpoint.
struct ServerSnapshot {
  nn::ParamRange range;
  int64_t pushes_applied = 0, optimizer_steps = 0, version = 0;
};

// The whole model's state, assembled by the chief from every server.
struct GatheredState {
  std::vector<float> params;
  optim::NamedArrays optimizer;
  std::vector<ServerSnapshot> servers;
  std::vector<int64_t> worker_steps;
};

class ParameterServerClient final : public GradientExchange {
 public:
  // total_steps: the step every worker ends at (agreed steps never go past it).
  ParameterServerClient(PsWindow& window, int64_t max_staleness, int64_t total_steps,
                        StallPolicy stall, Watchdog* watchdog);
  std::string name() const override { return "parameter-server"; }
  void before_step(nn::Replica& replica, int64_t step) override;
  void after_step(nn::Replica& replica, int64_t step, float lr) override;
  int agree(int requests, int64_t done, bool last) override;
  void finish() override;
  std::optional<float> applied_learning_rate() override;
  ExchangeStats stats() const override;

  // --- pull, push and the staleness wait (client.cpp) ---
  // This worker starts after `steps` completed steps (0, or a checkpoint's): publishes its
  // clock before anyone waits on it.
  void start_at(int64_t steps);
  // Pulls every shard into params (a whole flat buffer).
  void pull(float* params);
  // Adds grads (a whole flat buffer) into every server's accumulator.
  void push(const float* grads);
  // The weights version server `ps` has published.
  int64_t server_version(int ps);

  // --- work taken from a shared counter (--balance speed; comm/ps/window.h "Work taken") ---
  // From now on this worker trains the chunks it takes, chunk g being worker slice g % workers
  // of global step g / workers; the run's chunks are [first, end).
  void take_work(int64_t first, int64_t end);
  // Takes chunks until this worker holds `depth` untrained (or the run's are all taken): the
  // chunks taken now, in order. The oldest held is the next to train.
  std::vector<int64_t> take(std::size_t depth);
  // Records this worker's totals (images trained, seconds) for the chief's report.
  void set_totals(double images, double train_seconds) {
    images_ = images;
    train_seconds_ = train_seconds;
  }

  // Every worker: its compute totals (seconds, rows) so far, for the chief's straggler watch.
  void publish_compute(double seconds, double rows);
  // Chief: every worker's published compute totals: [seconds of each..., rows of each...].
  std::vector<double> read_compute();

  // --- the chief's collection from every server (chief_gather.cpp) ---
  // Chief only, after finish(): waits until every server has applied everything, then pulls.
  void pull_final(float* params);
  // Chief only: every worker's record, summed (after all have finished).
  WorkerRecord all_workers() const;

  // Chief only, for a checkpoint after `steps` steps: waits until every worker has completed
  // them, then asks every server for its weights, optimizer state and counters.
  GatheredState gather_state(int64_t steps, std::size_t total_floats,
                             const std::vector<std::string>& state_names);

  // --- agreed steps and node-local cuts (agreement.cpp; agree() above) ---
  // Chief only, at the agreed step of a node-local checkpoint: asks every server for its cut
  // after `steps` steps (comm/ps/window.h). Nobody waits: the servers take it once every worker
  // has pushed that step.
  void begin_local_cut(int64_t steps);
  // Chief only: the step of the cut asked for, once every server has kept it (then the
  // chief keeps the step's facts and calls checkpoint_written); nothing while it is under
  // way, or when none is. wait: until it is kept.
  std::optional<int64_t> local_cut_kept(bool wait);
  // The mean time a server spent keeping a cut (the slowest server of each).
  double server_keep_seconds() const {
    return cuts_kept_ > 0 ? server_keep_seconds_ / static_cast<double>(cuts_kept_) : 0.0;
  }
  // Chief only: the agreed checkpoint at `steps` is written; paused workers go on.
  void checkpoint_written(int64_t steps);

 private:
  void wait_for_stragglers();
  // Every worker's clock (steps completed), from server 0.
  std::vector<int64_t> read_clocks();
  // The ranks of the workers whose clock last read (last_clocks_) is below `needed`.
  std::vector<int> ranks_behind(int64_t needed) const;
  void wait_for_clocks(int64_t steps);
  // Pushes past a pending cut (comm/ps/window.h): the accumulator of server `ps` this push enters
  // (its in-flight count raised): the hold, or the active one.
  int64_t enter_hold(int ps);
  int64_t enter_accumulator(int ps);
  // Every worker: remembers the cut an agreed value names, if it names one.
  void note_cut(int64_t agreed);
  // Chief: chooses the step for `kinds` (AgreedStep::Kind) and publishes it; at its last step
  // the job's last (with work taken, the others may still hold chunks).
  void propose(int64_t done, int64_t kinds, bool last);
  // Publishes clock_ (the step of the oldest chunk held, with work taken).
  void publish_clock(const char* what);
  // Work taken: once, with this worker's first chunks (or none): see window.h.
  void hold_first(int64_t step);
  int64_t read_agreed();
  // The rank serving shard `ps` (server 0 keeps the clocks, records and agreement words).
  int server(int ps) const { return window_.roles().ps_rank(ps); }

  PsWindow& window_;
  mutable RmaAgent rma_;
  int64_t max_staleness_, total_steps_;
  int worker_, workers_;
  int64_t clock_ = 0;
  // Work taken: the chunks of [first_chunk_, end_chunk_) taken so far (SUM on server 0 gives
  // each its index), and the ones this worker holds untrained, oldest first.
  bool taking_ = false, all_taken_ = false, holding_ = false;
  int64_t first_chunk_ = 0, end_chunk_ = 0;
  std::deque<int64_t> held_;
  int64_t checkpoint_requests_ = 0;
  bool stop_announced_ = false;
  int64_t stops_handled_ = 0, checkpoints_handled_ = 0;
  std::vector<int64_t> pulled_version_;
  std::vector<int64_t> last_clocks_;
  // The newest cut this worker knows of, and which servers it has seen take it.
  int64_t cut_ = -1;
  std::vector<char> cut_taken_;
  // Chief: the cut asked for (-1: none) and the servers' answers (step, microseconds).
  int64_t cut_asked_ = -1;
  std::vector<std::array<int64_t, 2>> cut_acks_;
  std::vector<MPI_Request> cut_requests_;
  double server_keep_seconds_ = 0;
  int64_t cuts_kept_ = 0;
  // Statistics.
  double staleness_sum_ = 0, staleness_max_ = 0, staleness_count_ = 0;
  double pull_retries_ = 0, ssp_wait_seconds_ = 0, pull_seconds_ = 0, push_seconds_ = 0;
  double agree_wait_seconds_ = 0;
  double bytes_ = 0;  // of the whole model: what a pull or a push moves
  double images_ = 0, train_seconds_ = 0;
};

}  // namespace dtrain::comm
