// ParameterServerClient (async mode, on a worker): before each step it pulls the current
// weights of every shard straight into the replica's flat parameter buffer; after backward it
// pushes each shard's range of the flat gradient buffer into that server's accumulator. With
// --max-staleness S it first waits until no worker is more than S steps behind this one (stale
// synchronous parallel); the staleness it actually sees (server versions between its pull and
// its push) is counted for the metrics.
#pragma once

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/comm/ps_window.h"
#include "dtrain/comm/rma.h"

namespace dtrain::comm {

class ParameterServerClient final : public GradientExchange {
 public:
  ParameterServerClient(PsWindow& window, int64_t max_staleness, StallPolicy stall,
                        Watchdog* watchdog);
  std::string name() const override { return "parameter-server"; }
  void before_step(nn::Replica& replica, int64_t step) override;
  void after_step(nn::Replica& replica, int64_t step, float lr) override;
  void finish() override;
  nlohmann::json stats() const override;

  // Pulls every shard into params (a whole flat buffer).
  void pull(float* params);
  // Adds grads (a whole flat buffer) into every server's accumulator.
  void push(const float* grads);
  // The weights version server `ps` has published.
  int64_t server_version(int ps);
  // Chief only, after finish(): waits until every server has applied everything, then pulls.
  void pull_final(float* params);
  // Records this worker's totals for the chief (images trained, seconds).
  // Resuming: this worker has already done `steps` steps.
  void set_clock(int64_t steps) { clock_ = steps; }
  void set_totals(double images, double train_seconds) {
    images_ = images;
    train_seconds_ = train_seconds;
  }
  // Chief only: the statistics every worker recorded, summed (after all have finished).
  nlohmann::json all_workers_stats();

  // Chief only, for checkpoints: asks every server for its weights and optimizer state and
  // assembles them into whole flat vectors (params, named optimizer state, optimizer steps
  // of server 0, pushes applied), plus every worker's step count.
  struct GatheredState {
    std::vector<float> params;
    std::vector<std::pair<std::string, std::vector<float>>> optimizer;
    int64_t optimizer_steps = 0;
    int64_t pushes_applied = 0;
    std::vector<int64_t> worker_steps;
  };
  GatheredState gather_state(std::size_t total_floats, const std::vector<std::string>& state_names);

 private:
  void wait_for_stragglers();
  std::string workers_behind(int64_t needed);

  PsWindow& window_;
  RmaAgent rma_;
  int64_t max_staleness_;
  int worker_, workers_;
  int64_t clock_ = 0;
  int64_t checkpoint_requests_ = 0;
  std::vector<int64_t> pulled_version_;
  std::vector<int64_t> last_clocks_;
  // Statistics.
  double staleness_sum_ = 0, staleness_max_ = 0, staleness_count_ = 0;
  double pull_retries_ = 0, ssp_wait_seconds_ = 0, pull_seconds_ = 0, push_seconds_ = 0;
  double images_ = 0, train_seconds_ = 0;
};

}  // namespace dtrain::comm
