#include "comm/sync/allreduce_exchange.h"

#include <algorithm>
#include <exception>

#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::comm {

namespace {

int comm_rank(MPI_Comm comm) {
  int rank = 0;
  mpi_call("MPI_Comm_rank (allreduce exchange)", MPI_Comm_rank, comm, &rank);
  return rank;
}

int comm_size(MPI_Comm comm) {
  int size = 1;
  mpi_call("MPI_Comm_size (allreduce exchange)", MPI_Comm_size, comm, &size);
  return size;
}

}  // namespace

AllreduceExchange::AllreduceExchange(MPI_Comm comm, std::size_t total_floats,
                                     const optim::OptimizerConfig& opt, Options options,
                                     StallPolicy stall, Heartbeat* heartbeat, Watchdog* watchdog)
    : comm_(comm),
      rank_(comm_rank(comm)),
      shared_params_(options.shared_params),
      plan_(total_floats, options.bucket_mb, comm_size(comm), rank_, options.shard_optimizer),
      wire_(options.compression, options.fp16_scale, total_floats,
            plan_.sharded() ? plan_.owned_size() : 0),
      owned_grads_(plan_.sharded() ? std::max<std::size_t>(1, plan_.owned_size()) : 0),
      optimizer_(optim::make_optimizer(opt, plan_.owned_size())),
      stall_(stall),
      heartbeat_(heartbeat),
      watchdog_(watchdog) {
  if (shared_params_ && !plan_.sharded())
    throw Error(
        "shared parameters need the sharded optimizer: every rank would apply the whole "
        "update to the one copy");
  thread_ = std::thread([this] { communicate(); });
}

AllreduceExchange::~AllreduceExchange() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // Unwinding an error (this rank is about to abort the job), the thread may sit in an
  // allreduce that the other ranks will never complete: do not wait for it.
  if (std::uncaught_exceptions() > 0) {
    thread_.detach();
    return;
  }
  thread_.join();
}

void AllreduceExchange::communicate() {
  timeline::name_this_thread("allreduce");
  for (;;) {
    std::size_t bucket;
    float* grads;
    int64_t step;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      bucket = queue_.front();
      queue_.pop_front();
      grads = grads_;
      step = step_;
    }
    const double t0 = now_seconds();
    if (bucket == 0) {
      TimelineSpan span("arrival barrier", "wait", step);
      // Every rank must arrive before anyone blocks in the reduction: poll a barrier against
      // the stall timeout, naming the ranks that never came.
      MPI_Request arrived = MPI_REQUEST_NULL;
      mpi_call("MPI_Ibarrier (gradient allreduce)", MPI_Ibarrier, comm_, &arrived);
      stall_.wait(arrived, "gradient allreduce at step " + std::to_string(step), behind(step));
    }
    const double t1 = now_seconds();
    {
      const auto& b = plan_.buckets()[bucket];
      TimelineSpan span("allreduce bucket", "exchange", step,
                        static_cast<double>(b.size() * wire_.bytes_per_value()));
      Watchdog::Scope guard(watchdog_, "gradient allreduce at step " + std::to_string(step));
      reduce_bucket(bucket, grads);
    }
    const double t2 = now_seconds();
    {
      std::lock_guard lock(mu_);
      if (bucket == 0) first_start_ = t0;
      reduce_seconds_step_ += t2 - t1;
      last_end_ = t2;
      ++reduced_;
    }
    cv_.notify_all();
  }
}

void AllreduceExchange::reduce_bucket(std::size_t bucket, float* grads) {
  const auto& b = plan_.buckets()[bucket];
  void* wire = wire_.encode(grads, b);
  if (!plan_.sharded()) {
    mpi_call("MPI_Allreduce (gradients)", MPI_Allreduce, MPI_IN_PLACE, wire,
             static_cast<int>(b.size()), wire_.type(), wire_.op(), comm_);
    wire_.decode(wire, b.size(), grads + b.begin);
    return;
  }
  // The bucket's pieces go to their owners in rank order; this rank's lands at its place in
  // the owned buffer.
  const BucketPlan::Pieces& p = plan_.pieces(bucket);
  void* received = wire_.receive_at(owned_grads_.data(), p.owned_offset);
  mpi_call("MPI_Reduce_scatter (gradients)", MPI_Reduce_scatter, wire, received, p.counts.data(),
           wire_.type(), wire_.op(), comm_);
  wire_.decode(received, p.mine.size(), owned_grads_.data() + p.owned_offset);
}

MissingFn AllreduceExchange::behind(int64_t step) const {
  return [this, step] { return heartbeat_ ? heartbeat_->ranks_behind(step) : std::string(); };
}

void AllreduceExchange::step_owned(nn::Replica& replica, float lr) {
  if (!plan_.sharded()) {
    optimizer_->step(replica.params().span(), replica.grads().span(), lr, 1.0f);
    return;
  }
  // This rank's pieces are stepped where they sit in the flat parameters, and the allgather
  // sends them from there (in place): no copy of them is kept to go stale.
  std::vector<std::span<float>> params;
  std::vector<std::span<const float>> grads;
  for (std::size_t k = 0; k < plan_.buckets().size(); ++k) {
    const BucketPlan::Pieces& p = plan_.pieces(k);
    params.emplace_back(replica.params().data() + p.mine.begin, p.mine.size());
    grads.emplace_back(owned_grads_.data() + p.owned_offset, p.mine.size());
  }
  optimizer_->step_pieces(params, grads, lr, 1.0f);
}

void AllreduceExchange::gather_parameters(nn::Replica& replica, int64_t step) {
  if (shared_params_) {
    if (replica.params().data() != shared_params_->data())
      throw Error("the replica's parameters are not the node's shared copy");
    TimelineSpan span("shared parameters barrier", "exchange", step);
    shared_params_->fence(stall_, "the parameter update of step " + std::to_string(step),
                          behind(step));
    return;
  }
  TimelineSpan span("allgather parameters", "exchange", step,
                    static_cast<double>(plan_.total() * sizeof(float)));
  Watchdog::Scope guard(watchdog_, "parameter allgather at step " + std::to_string(step));
  for (std::size_t k = 0; k < plan_.buckets().size(); ++k) {
    const BucketPlan::Pieces& p = plan_.pieces(k);
    mpi_call("MPI_Allgatherv (parameters)", MPI_Allgatherv, MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
             replica.params().data() + plan_.buckets()[k].begin, p.counts.data(), p.displs.data(),
             MPI_FLOAT, comm_);
  }
}

optim::NamedArrays AllreduceExchange::optimizer_state() {
  optim::NamedArrays mine = optim::snapshot_state(*optimizer_);
  if (!plan_.sharded()) return mine;  // every rank holds all of it
  optim::NamedArrays whole;
  for (auto& [name, values] : mine) {
    std::vector<float> all(rank_ == 0 ? plan_.total() : 0);
    for (std::size_t k = 0; k < plan_.buckets().size(); ++k) {
      const BucketPlan::Pieces& p = plan_.pieces(k);
      mpi_call("MPI_Gatherv (optimizer state for a checkpoint)", MPI_Gatherv,
               values.data() + p.owned_offset, static_cast<int>(p.mine.size()), MPI_FLOAT,
               rank_ == 0 ? all.data() + plan_.buckets()[k].begin : nullptr, p.counts.data(),
               p.displs.data(), MPI_FLOAT, 0, comm_);
    }
    if (rank_ == 0) whole.emplace_back(name, std::move(all));
  }
  return whole;
}

void AllreduceExchange::restore_optimizer(const optim::NamedArrays& whole, int64_t steps) {
  optim::NamedArrays part;
  for (const auto& [name, values] : whole) {
    if (values.size() != plan_.total()) {
      throw Error("optimizer state '" + name + "' holds " + std::to_string(values.size()) +
                  " values; the model has " + std::to_string(plan_.total()) + " parameters");
    }
    std::vector<float> mine;
    mine.reserve(plan_.owned_size());
    for (const auto& r : owned_ranges())
      mine.insert(mine.end(), values.begin() + static_cast<std::ptrdiff_t>(r.begin),
                  values.begin() + static_cast<std::ptrdiff_t>(r.end));
    part.emplace_back(name, std::move(mine));
  }
  optim::restore_state(*optimizer_, part, steps);
}

void AllreduceExchange::before_step(nn::Replica& replica, int64_t step) {
  if (heartbeat_) heartbeat_->beat(step);
  std::lock_guard lock(mu_);
  grads_ = replica.grads().data();
  step_ = step;
  queued_ = reduced_ = 0;
  reduce_seconds_step_ = 0;
  ready_from_ = plan_.total();
}

void AllreduceExchange::enqueue_ready_buckets() {
  {
    std::lock_guard lock(mu_);
    while (queued_ < plan_.buckets().size() && plan_.buckets()[queued_].begin >= ready_from_)
      queue_.push_back(queued_++);
  }
  cv_.notify_all();
}

void AllreduceExchange::gradients_ready(nn::ParamRange range) {
  // Layers report in reverse layout order, so everything from range.begin to the end is final
  // (gaps between layers are alignment padding that no layer writes).
  ready_from_ = std::min(ready_from_, range.begin);
  enqueue_ready_buckets();
}

void AllreduceExchange::after_step(nn::Replica& replica, int64_t step, float lr) {
  const double t0 = now_seconds();
  std::size_t done_before = 0;
  {
    std::lock_guard lock(mu_);
    done_before = reduced_;
  }
  ready_from_ = 0;  // backward is over: every gradient is final
  enqueue_ready_buckets();
  double first = 0, last = 0, reducing = 0;
  {
    // The communication thread enforces the stall timeout; this wait only needs the result.
    TimelineSpan span("allreduce wait", "wait", step);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return reduced_ == plan_.buckets().size(); });
    first = first_start_;
    last = last_end_;
    reducing = reduce_seconds_step_;
  }
  const double t1 = now_seconds();
  {
    TimelineSpan span("optimizer", "compute", step);
    step_owned(replica, lr);
  }
  const double t2 = now_seconds();
  if (plan_.sharded()) gather_parameters(replica, step);
  gather_seconds_ += now_seconds() - t2;
  ++steps_;
  wait_seconds_ += t1 - t0;
  allreduce_seconds_ += last - first;
  reduce_seconds_ += reducing;
  optimizer_seconds_ += t2 - t1;
  overlapped_buckets_ += static_cast<double>(done_before);
}

int AllreduceExchange::agree(int requests, int64_t, bool) {
  // Between steps the communication thread is idle: this tiny collective is the only MPI call.
  int all = 0;
  MPI_Request req = MPI_REQUEST_NULL;
  mpi_call("MPI_Iallreduce (checkpoint/stop requests)", MPI_Iallreduce, &requests, &all, 1, MPI_INT,
           MPI_BOR, comm_, &req);
  stall_.wait(req, "agreeing on checkpoint/stop requests after step " + std::to_string(step_),
              behind(step_));
  return all;
}

ExchangeStats AllreduceExchange::stats() const {
  const double n = static_cast<double>(std::max<int64_t>(1, steps_));
  const double bytes = static_cast<double>(plan_.total() * wire_.bytes_per_value());
  ExchangeStats s;
  s.comm_wait_seconds_per_step = wait_seconds_ / n;
  s.optimizer_seconds_per_step = optimizer_seconds_ / n;
  AllreduceStats& a = s.allreduce.emplace();
  a.buckets = static_cast<int>(plan_.buckets().size());
  a.bytes_per_step = bytes;
  a.reduce_seconds_per_step = reduce_seconds_ / n;
  a.span_seconds_per_step = allreduce_seconds_ / n;
  a.gbps = reduce_seconds_ > 0 ? bytes * n / reduce_seconds_ / 1e9 : 0.0;
  a.buckets_done_before_backward_ended = overlapped_buckets_ / n;
  a.sharded_optimizer = plan_.sharded();
  a.compression = wire_.compression();
  a.gather_seconds_per_step = gather_seconds_ / n;
  a.params_shared = shared_params_ != nullptr;
  double state = 0;
  for (auto& [name, buffer] : optimizer_->state()) state += static_cast<double>(buffer->size());
  a.optimizer_state_bytes = state * sizeof(float);
  return s;
}

}  // namespace dtrain::comm
