// AllreduceExchange (sync mode): gradients averaged over all ranks with MPI allreduce.
//
// The flat gradient buffer is cut into buckets of about --bucket-mb, from its end: backward
// produces the last layers first, so the last bucket is ready first. Each bucket's
// MPI_Iallreduce starts as soon as every gradient in it is final, and runs while backward
// continues on the earlier layers; before the optimizer step every bucket is waited for (with a
// deadline). The batch loss was already scaled by 1/global batch, so the sum is the mean.
// The optimizer then takes the same step on every rank.
#pragma once

#include <mpi.h>

#include <vector>

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/comm/heartbeat.h"
#include "dtrain/comm/stall.h"

namespace dtrain::comm {

class AllreduceExchange final : public GradientExchange {
 public:
  AllreduceExchange(MPI_Comm comm, std::size_t total_floats, double bucket_mb,
                    std::unique_ptr<optim::Optimizer> optimizer, StallPolicy stall,
                    Heartbeat* heartbeat);
  std::string name() const override { return "allreduce"; }
  void before_step(nn::Replica& replica, int64_t step) override;
  void gradients_ready(nn::ParamRange range) override;
  void after_step(nn::Replica& replica, int64_t step, float lr) override;
  optim::Optimizer* optimizer() override { return optimizer_.get(); }
  nlohmann::json stats() const override;

  const std::vector<nn::ParamRange>& buckets() const { return buckets_; }

 private:
  void start_ready_buckets();
  void poll();

  MPI_Comm comm_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  StallPolicy stall_;
  Heartbeat* heartbeat_;
  std::vector<nn::ParamRange> buckets_;  // from the end of the buffer to its start
  std::vector<MPI_Request> requests_;
  std::size_t started_ = 0;
  std::size_t ready_from_ = 0;  // [ready_from_, total) holds final gradients
  std::size_t total_;
  float* grads_ = nullptr;
  int64_t step_ = 0;
  double first_start_ = 0;
  // Statistics over the run.
  int64_t steps_ = 0;
  double wait_seconds_ = 0, allreduce_seconds_ = 0, optimizer_seconds_ = 0;
  double overlapped_buckets_ = 0;
};

}  // namespace dtrain::comm
