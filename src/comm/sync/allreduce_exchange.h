// AllreduceExchange (sync mode): gradients averaged over all ranks with MPI collectives.
//
// The flat gradient buffer is cut into buckets (bucket_plan.h), from its end: backward
// produces the last layers first, so the last bucket is ready first. A bucket is handed to a
// communication thread as soon as every gradient in it is final, and is reduced there while
// backward goes on with the earlier layers; the optimizer step waits for the last bucket.
// Gradients travel as fp32 or, with --compress fp16, as scaled halves (gradient_wire.h).
//
// Why a thread and blocking collectives rather than MPI_Iallreduce: Open MPI's non-blocking
// allreduce (coll/libnbc) measured 2.5x slower than its tuned blocking one on the 13 MB
// gradient here, and it only advances inside MPI calls, which backward does not make. Each
// step begins with a barrier polled against --stall-timeout, so that a rank that never
// arrives is named (heartbeats) instead of blocking the others inside a collective.
// The batch loss was already scaled by 1/global batch, so the sum is the mean.
//
// Sharded optimizer (ZeRO-1, the default): every bucket is reduce-scattered instead of
// allreduced, so a rank receives the summed gradient of its own pieces only (bucket_plan.h);
// it runs the optimizer on its pieces, with optimizer state for them only (1/N of the
// memory), and an allgather per bucket gives every rank the whole new parameters. One piece
// per rank in every bucket, not one contiguous slice per rank: with slices, a bucket inside
// one rank's slice became a reduction to that rank, one link direction idle while the other
// carried the bucket (on 2 hosts at 1 Gbit/s the exchange took 220 ms a step against 114 ms
// balanced). The traffic equals an allreduce's (a ring allreduce is a reduce-scatter plus an
// allgather); what goes is the optimizer pass every rank repeated. Element for element the
// update is the same arithmetic, and every rank ends each step with the owner's bytes.
// Checkpoints gather the state to rank 0 and hold it whole, so a resume works on any rank
// count. Unsharded (--no-shard-optimizer): every rank allreduces and takes the same whole step.
//
// Shared parameters (--shared-params: sharded, all ranks on one node): the replicas'
// parameters are one NodeSharedBuffer. Each rank's optimizer writes its pieces in place and a
// barrier stands where the allgather was.
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/heartbeat.h"
#include "comm/stall.h"
#include "comm/sync/bucket_plan.h"
#include "comm/sync/gradient_wire.h"
#include "comm/sync/node_shared_buffer.h"
#include "comm/watchdog.h"
#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/comm/roles.h"

namespace dtrain::comm {

class AllreduceExchange final : public GradientExchange {
 public:
  struct Options {
    double bucket_mb = 4.0;
    bool shard_optimizer = true;
    Compression compression = Compression::kNone;
    float fp16_scale = 1.f;  // gradient_wire.h
    // Sharded only: the node's one copy of the parameters, which the replica's must be.
    const NodeSharedBuffer* shared_params = nullptr;
  };
  AllreduceExchange(MPI_Comm comm, std::size_t total_floats, const optim::OptimizerConfig& opt,
                    Options options, StallPolicy stall, Heartbeat* heartbeat,
                    Watchdog* watchdog = nullptr);
  ~AllreduceExchange() override;
  std::string name() const override { return "allreduce"; }
  void before_step(nn::Replica& replica, int64_t step) override;
  void gradients_ready(nn::ParamRange range) override;
  void after_step(nn::Replica& replica, int64_t step, float lr) override;
  optim::NamedArrays optimizer_state() override;
  int64_t optimizer_steps() const override { return optimizer_->steps(); }
  void restore_optimizer(const optim::NamedArrays& whole, int64_t steps) override;
  OwnedOptimizerState owned_optimizer_state() override {
    return {owned_ranges(), optim::snapshot_state(*optimizer_), !plan_.sharded()};
  }
  int agree(int requests, int64_t done, bool last) override;
  ExchangeStats stats() const override;

  // The ranges of the flat buffers this rank updates (all of it unsharded).
  std::vector<nn::ParamRange> owned_ranges() const { return plan_.owned_ranges(); }

 private:
  void enqueue_ready_buckets();
  void communicate();  // the communication thread
  void reduce_bucket(std::size_t bucket, float* grads);
  void gather_parameters(nn::Replica& replica, int64_t step);
  void step_owned(nn::Replica& replica, float lr);
  // Names the ranks that have not reached `step`, for a stalled wait.
  MissingFn behind(int64_t step) const;

  MPI_Comm comm_;
  int rank_ = 0;
  const NodeSharedBuffer* shared_params_;
  BucketPlan plan_;
  GradientWire wire_;
  std::vector<float> owned_grads_;  // sharded: the reduced gradient of this rank's pieces
  std::unique_ptr<optim::Optimizer> optimizer_;
  StallPolicy stall_;
  Heartbeat* heartbeat_;
  Watchdog* watchdog_;
  // Shared with the communication thread (under mu_).
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::size_t> queue_;
  std::size_t queued_ = 0, reduced_ = 0;
  bool stop_ = false;
  float* grads_ = nullptr;
  int64_t step_ = 0;
  double first_start_ = 0, last_end_ = 0, reduce_seconds_step_ = 0;
  std::thread thread_;
  // Main thread only.
  std::size_t ready_from_ = 0;  // [ready_from_, total) holds final gradients
  int64_t steps_ = 0;
  double wait_seconds_ = 0, allreduce_seconds_ = 0, reduce_seconds_ = 0, optimizer_seconds_ = 0,
         gather_seconds_ = 0;
  double overlapped_buckets_ = 0;
};

}  // namespace dtrain::comm
