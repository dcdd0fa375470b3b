// ParameterServer: the whole life of a parameter-server rank (protocol: comm/ps/window.h).
//
// It owns one contiguous shard of the flat parameter vector, the optimizer state for that
// shard, and the window workers push to and pull from. serve() drains gradients, steps the
// optimizer, publishes new weights, answers checkpoint requests, keeps MPI progressing for
// transports whose one-sided operations need the target's help (UCX, TCP), sleeps when idle so
// that it does not take a worker's core, and returns when every worker has finished and every
// gradient is applied.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "comm/ps/window.h"
#include "comm/rma.h"
#include "dtrain/optim/lr_schedule.h"
#include "dtrain/optim/optimizer.h"
#include "dtrain/util/aligned_buffer.h"

namespace dtrain::comm {

// Where a server starts from: fresh, or a checkpoint's values for this shard.
struct ServerStart {
  int64_t pushes_applied = 0;  // the learning rate continues from here
  int64_t optimizer_steps = 0;
  std::vector<std::pair<std::string, std::vector<float>>> optimizer_state;  // this shard's range
};

// A copy of a server's shard state at an agreed step, for the node-local checkpoint level.
struct ShardSnapshot {
  int64_t step = 0;
  std::vector<float> params;
  std::vector<std::pair<std::string, std::vector<float>>> optimizer_state;
  int64_t pushes_applied = 0, optimizer_steps = 0;
};

// The node-local level, as the server sees it: keep a snapshot; drive transfers between steps.
struct LocalCheckpointHooks {
  std::function<void(ShardSnapshot)> keep;
  std::function<void()> poll;
};

// What serve() measured.
struct ServerStats {
  int rank = 0;
  std::size_t shard_floats = 0;
  int64_t versions = 0, pushes_applied = 0, first_applied = 0, drains = 0, max_merged = 0;
  float learning_rate = 0;  // the rate of the last drain
  double optimizer_seconds = 0, quiesce_seconds = 0, busy_fraction = 0, serve_seconds = 0;
};

class ParameterServer {
 public:
  static constexpr int kCheckpointTag = 7701, kLocalCheckpointTag = 7703;

  // initial: this server's shard of the initial parameters.
  ParameterServer(PsWindow& window, std::span<const float> initial,
                  const optim::OptimizerConfig& optimizer, const ServerStart& start,
                  StallPolicy stall, Watchdog* watchdog);
  ~ParameterServer();
  ParameterServer(const ParameterServer&) = delete;
  ParameterServer& operator=(const ParameterServer&) = delete;

  // Serves until all workers are done. The learning rate follows `schedule` over the number
  // of pushes applied.
  ServerStats serve(optim::LrSchedule schedule);

  // Node-local checkpoints (--local-checkpoint-dir); without hooks none are answered.
  void set_local_checkpoints(LocalCheckpointHooks hooks) { local_ = std::move(hooks); }

  int64_t applied() const { return applied_; }
  int64_t optimizer_steps() const { return optimizer_->steps(); }

 private:
  void drain(int64_t buffer);
  // Answers a checkpoint request: drains every pending push, then sends the chief this
  // shard's weights, optimizer state and counters.
  void send_state();
  // A node-local cut (comm/ps/window.h): asked for and not yet taken; every worker has pushed its
  // steps up to `step`; taken: drains like send_state(), hands a copy of the shard's state to
  // the node-local level, applies the held pushes and tells the chief.
  bool cut_pending() { return local_.keep && load(PsLayout::kLocalCheckpoint) > local_served_; }
  bool cut_reached(int64_t step);
  // Worker `worker`'s clock (kept on server 0).
  int64_t clock_of(int worker);
  void keep_state_locally(int64_t step);
  // One optimizer step on accumulator `buffer` (the sum of the pushes counted in word
  // `pushes_word`), published as the next version; false when it held no push.
  bool apply(int64_t buffer, int pushes_word);
  // Every push that completed before a checkpoint request is applied.
  void drain_pending();
  // Own-window access (see comm/ps/window.h) and a cheap MPI call that drives progress.
  int64_t load(int word);
  void store(int word, int64_t value);
  void progress();
  bool pending();
  std::string unfinished_workers();
  template <typename T>
  T& local(MPI_Aint disp) {
    return *reinterpret_cast<T*>(window_.local() + disp);
  }

  PsWindow& window_;
  PsLayout layout_;
  int self_;
  AlignedBuffer params_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  optim::LrSchedule schedule_;
  RmaAgent rma_;
  Watchdog* watchdog_;
  int64_t version_ = 0, applied_ = 0, active_ = 0, checkpoints_served_ = 0, local_served_ = 0;
  LocalCheckpointHooks local_;
  MPI_Comm idle_comm_ = MPI_COMM_NULL;
  MPI_Request idle_request_ = MPI_REQUEST_NULL;
  int idle_buffer_ = 0;
  ServerStats stats_;
  double busy_seconds_ = 0;
};

}  // namespace dtrain::comm
