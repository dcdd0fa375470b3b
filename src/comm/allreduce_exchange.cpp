#include "dtrain/comm/allreduce_exchange.h"

#include <algorithm>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"

namespace dtrain::comm {

AllreduceExchange::AllreduceExchange(MPI_Comm comm, std::size_t total_floats, double bucket_mb,
                                     std::unique_ptr<optim::Optimizer> optimizer, StallPolicy stall,
                                     Heartbeat* heartbeat)
    : comm_(comm), optimizer_(std::move(optimizer)), stall_(stall), heartbeat_(heartbeat), total_(total_floats) {
  constexpr std::size_t kAlign = nn::ParameterLayout::kAlignFloats;
  const auto per_bucket = std::max<std::size_t>(
      kAlign, static_cast<std::size_t>(bucket_mb * 1e6 / sizeof(float)) / kAlign * kAlign);
  for (std::size_t end = total_; end > 0;) {
    const std::size_t begin = end > per_bucket ? end - per_bucket : 0;
    buckets_.push_back({begin, end});
    end = begin;
  }
  requests_.assign(buckets_.size(), MPI_REQUEST_NULL);
}

void AllreduceExchange::before_step(nn::Replica& replica, int64_t step) {
  grads_ = replica.grads().data();
  step_ = step;
  started_ = 0;
  ready_from_ = total_;
  if (heartbeat_) heartbeat_->beat(step);
}

void AllreduceExchange::start_ready_buckets() {
  std::lock_guard lock(mpi_mutex());
  while (started_ < buckets_.size() && buckets_[started_].begin >= ready_from_) {
    const auto& b = buckets_[started_];
    if (started_ == 0) first_start_ = now_seconds();
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, grads_ + b.begin, static_cast<int>(b.size()), MPI_FLOAT,
                             MPI_SUM, comm_, &requests_[started_]),
              "MPI_Iallreduce");
    ++started_;
  }
}

void AllreduceExchange::poll() {
  // Non-blocking collectives advance only inside MPI calls: give them a push between layers.
  std::lock_guard lock(mpi_mutex());
  int flag = 0;
  MPI_Testall(static_cast<int>(started_), requests_.data(), &flag, MPI_STATUSES_IGNORE);
}

void AllreduceExchange::gradients_ready(nn::ParamRange range) {
  // Layers report in reverse layout order, so everything from range.begin to the end is final
  // (gaps between layers are alignment padding that no layer writes).
  ready_from_ = std::min(ready_from_, range.begin);
  start_ready_buckets();
  poll();
}

void AllreduceExchange::after_step(nn::Replica& replica, int64_t step, float lr) {
  ready_from_ = 0;  // backward is over: every gradient is final
  const double t0 = now_seconds();
  std::size_t done_before = 0;
  {
    std::lock_guard lock(mpi_mutex());
    for (std::size_t i = 0; i < started_; ++i) {
      int flag = 0;
      if (requests_[i] == MPI_REQUEST_NULL) {
        ++done_before;
      } else {
        MPI_Test(&requests_[i], &flag, MPI_STATUS_IGNORE);
        done_before += flag;
      }
    }
  }
  start_ready_buckets();
  stall_.wait(std::span(requests_.data(), started_), "gradient allreduce at step " + std::to_string(step),
              [&] { return heartbeat_ ? heartbeat_->ranks_behind(step) : std::string(); });
  const double t1 = now_seconds();
  optimizer_->step(replica.params().span(), replica.grads().span(), lr, 1.0f);
  const double t2 = now_seconds();
  ++steps_;
  wait_seconds_ += t1 - t0;
  allreduce_seconds_ += t1 - first_start_;
  optimizer_seconds_ += t2 - t1;
  overlapped_buckets_ += static_cast<double>(done_before);
}

nlohmann::json AllreduceExchange::stats() const {
  const double n = std::max<int64_t>(1, steps_);
  const double bytes = static_cast<double>(total_) * sizeof(float);
  return {{"buckets", buckets_.size()},
          {"allreduce_bytes_per_step", bytes},
          {"allreduce_seconds_per_step", allreduce_seconds_ / n},
          {"allreduce_gbps", allreduce_seconds_ > 0 ? bytes * n / allreduce_seconds_ / 1e9 : 0.0},
          {"comm_wait_seconds_per_step", wait_seconds_ / n},
          {"optimizer_seconds_per_step", optimizer_seconds_ / n},
          {"buckets_done_before_backward_ended", overlapped_buckets_ / n}};
}

}  // namespace dtrain::comm
