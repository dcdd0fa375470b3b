// ParameterServer: the whole life of a parameter-server rank.
//
// The server reads and writes its own window with loads, stores and MPI_Win_sync (the polling
// pattern of the unified memory model), never with RMA calls targeting itself: Open MPI's
// osc/ucx hangs when a target runs one-sided operations on its own window while others do, and
// osc/pt2pt never completes request-based ones. Workers only ever use MPI atomics on it. It owns
// one contiguous shard of the flat parameter vector, the optimizer state for that shard, and the
// window workers push to and pull from (see ps_window.h for the protocol). serve() drains
// gradients, steps the optimizer, publishes new weights, keeps MPI progressing for transports whose
// one-sided operations need the target's help (UCX, TCP), sleeps when idle so that it does not take
// a worker's core, and returns when every worker has finished and every gradient is applied.
#pragma once

#include <nlohmann/json.hpp>

#include "dtrain/comm/ps_window.h"
#include "dtrain/comm/rma.h"
#include "dtrain/optim/lr_schedule.h"
#include "dtrain/optim/optimizer.h"
#include "dtrain/util/aligned_buffer.h"

namespace dtrain::comm {

class ParameterServer {
 public:
  static constexpr int kCheckpointTag = 7701;

  // initial: this server's shard of the initial parameters.
  ParameterServer(PsWindow& window, std::span<const float> initial,
                  const optim::OptimizerConfig& optimizer, StallPolicy stall, Watchdog* watchdog);
  ~ParameterServer();
  ParameterServer(const ParameterServer&) = delete;
  ParameterServer& operator=(const ParameterServer&) = delete;

  // Serves until all workers are done; returns statistics (drains, pushes, timings). The
  // learning rate follows `schedule` over the number of pushes applied.
  nlohmann::json serve(optim::LrSchedule schedule);

  // Continues from a checkpoint: optimizer state (named arrays, this shard's range) and steps.
  void restore_optimizer(const std::vector<std::pair<std::string, std::vector<float>>>& state,
                         int64_t steps);

  std::span<const float> weights() const { return params_.span(); }
  optim::Optimizer& optimizer() { return *optimizer_; }
  int64_t version() const { return version_; }
  int64_t applied() const { return applied_; }

 private:
  void drain(int64_t buffer);
  // Answers a checkpoint request: sends weights and optimizer state to the chief.
  void send_state();
  // Own-window access (see above) and a cheap MPI call that drives progress.
  int64_t load(int word);
  void store(int word, int64_t value);
  void progress();
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
  int64_t version_ = 0, applied_ = 0, active_ = 0, checkpoints_served_ = 0;
  MPI_Comm idle_comm_ = MPI_COMM_NULL;
  MPI_Request idle_request_ = MPI_REQUEST_NULL;
  int idle_buffer_ = 0;
  // Statistics.
  int64_t drains_ = 0, max_merged_ = 0;
  double optimizer_seconds_ = 0, quiesce_seconds_ = 0, busy_seconds_ = 0;
};

}  // namespace dtrain::comm
