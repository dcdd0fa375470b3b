#include "dtrain/comm/parameter_server.h"

#include <cstring>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"

namespace dtrain::comm {

using W = PsLayout::Word;

ParameterServer::ParameterServer(PsWindow& window, std::span<const float> initial,
                                 const optim::OptimizerConfig& optimizer, StallPolicy stall,
                                 Watchdog* watchdog)
    : window_(window),
      layout_(window.layout(window.roles().rank)),
      self_(window.roles().rank),
      params_(initial.size()),
      optimizer_(optim::make_optimizer(optimizer, initial.size())),
      rma_(window, stall, watchdog),
      watchdog_(watchdog) {
  std::copy(initial.begin(), initial.end(), params_.data());
  if (window_.memory_model() != MPI_WIN_UNIFIED) {
    throw Error(
        "the MPI window is not in the unified memory model, which the parameter server's "
        "polling of its own window needs; use another osc component (--mca osc sm, rdma, "
        "pt2pt or ucx)");
  }
  // Version 0 in slot 0; nobody reads the window before the barrier that follows construction.
  std::memcpy(window_.local() + layout_.slot(0), params_.data(), params_.size() * sizeof(float));
  std::lock_guard lock(mpi_mutex());
  MPI_Win_sync(window_.win());
  // A receive nobody will ever match, on a private communicator: testing it drives progress.
  MPI_Comm_dup(MPI_COMM_SELF, &idle_comm_);
  MPI_Irecv(&idle_buffer_, 1, MPI_INT, MPI_ANY_SOURCE, 0, idle_comm_, &idle_request_);
}

int64_t ParameterServer::load(int word) {
  std::lock_guard lock(mpi_mutex());
  MPI_Win_sync(window_.win());
  return __atomic_load_n(&local<int64_t>(PsLayout::word(word)), __ATOMIC_ACQUIRE);
}

void ParameterServer::store(int word, int64_t value) {
  std::lock_guard lock(mpi_mutex());
  __atomic_store_n(&local<int64_t>(PsLayout::word(word)), value, __ATOMIC_RELEASE);
  MPI_Win_sync(window_.win());
}

void ParameterServer::progress() {
  // MPI_Test on a receive that never matches runs Open MPI's whole progress engine (every
  // component's callbacks, osc/ucx's worker included); MPI_Iprobe with pml/ucx would only
  // poll the PML's own UCX worker.
  std::lock_guard lock(mpi_mutex());
  int flag = 0;
  MPI_Test(&idle_request_, &flag, MPI_STATUS_IGNORE);
}

ParameterServer::~ParameterServer() {
  std::lock_guard lock(mpi_mutex());
  MPI_Cancel(&idle_request_);
  MPI_Wait(&idle_request_, MPI_STATUS_IGNORE);
  MPI_Comm_free(&idle_comm_);
}

void ParameterServer::drain(int64_t old) {
  // Close the buffer: new pushes go to the other one; wait for the pushes under way to land.
  const double t0 = now_seconds();
  active_ = 1 - old;
  store(W::kActive, active_);
  rma_.stall().wait_until(
      [&] {
        progress();
        return load(W::kInflight0 + static_cast<int>(old)) == 0;
      },
      "waiting for in-flight gradient pushes on parameter server " + std::to_string(self_),
      [&] { return "a worker began a push and never finished it; " + unfinished_workers(); });
  const double t1 = now_seconds();
  auto* acc = reinterpret_cast<float*>(window_.local() + layout_.acc(old));
  int64_t& pushes = local<int64_t>(PsLayout::word(W::kPushes0 + static_cast<int>(old)));
  const int64_t merged = pushes;
  // The accumulator holds the sum of `merged` pushes, each a mean over its batch: one step on
  // the sum applies every pushed gradient exactly once.
  optimizer_->step(params_.span(), {acc, params_.size()}, schedule_.at(applied_), 1.0f);
  const double t2 = now_seconds();
  std::memset(acc, 0, params_.size() * sizeof(float));
  pushes = 0;
  // Publish: write the next slot, make it public, then bump the version.
  ++version_;
  std::memcpy(window_.local() + layout_.slot(version_), params_.data(),
              params_.size() * sizeof(float));
  store(W::kVersion, version_);  // store() syncs the window first: the slot is public before it
  applied_ += merged;
  store(W::kApplied, applied_);
  ++drains_;
  max_merged_ = std::max(max_merged_, merged);
  quiesce_seconds_ += t1 - t0;
  optimizer_seconds_ += t2 - t1;
  busy_seconds_ += now_seconds() - t0;
}

std::string ParameterServer::unfinished_workers() {
  const int w = layout_.workers;
  const int ps0 = 0;  // the clocks and finish marks live on the first server
  std::vector<int64_t> clocks(static_cast<std::size_t>(w));
  std::vector<double> finished(static_cast<std::size_t>(w));
  for (int i = 0; i < w; ++i) {
    if (self_ == ps0) {
      std::lock_guard lock(mpi_mutex());
      MPI_Win_sync(window_.win());
      clocks[static_cast<std::size_t>(i)] = local<int64_t>(layout_.clock(i));
      finished[static_cast<std::size_t>(i)] = local<double>(layout_.stats(i));
    } else {
      clocks[static_cast<std::size_t>(i)] =
          rma_.read(ps0, window_.layout(ps0).clock(i), "reading worker clocks");
      finished[static_cast<std::size_t>(i)] =
          rma_.read_doubles(ps0, window_.layout(ps0).stats(i), 1, "reading worker state")[0];
    }
  }
  std::vector<int> ranks;
  std::string steps;
  for (int i = 0; i < w; ++i) {
    if (finished[static_cast<std::size_t>(i)] == 0.0) {
      ranks.push_back(window_.roles().worker_rank(i));
      steps += (steps.empty() ? "" : ", ") + std::to_string(clocks[static_cast<std::size_t>(i)]);
    }
  }
  return "workers not finished: ranks " + rank_list(ranks) + " (at steps " + steps + ")";
}

void ParameterServer::restore_optimizer(
    const std::vector<std::pair<std::string, std::vector<float>>>& state, int64_t steps) {
  for (auto& [name, buffer] : optimizer_->state()) {
    for (const auto& [saved, values] : state) {
      if (saved != name) continue;
      if (values.size() != buffer->size())
        throw Error("optimizer state '" + name + "' has the wrong size");
      std::copy(values.begin(), values.end(), buffer->data());
    }
  }
  optimizer_->set_steps(steps);
}

void ParameterServer::send_state() {
  // Header: version, pushes applied, optimizer steps, number of state arrays; then the weights
  // and each state array of this shard.
  const auto state = optimizer_->state();
  const int64_t header[4] = {version_, applied_, optimizer_->steps(),
                             static_cast<int64_t>(state.size())};
  const int chief = window_.roles().chief_rank();
  Watchdog::Scope guard(watchdog_, "sending server state to the chief for a checkpoint");
  std::lock_guard lock(mpi_mutex());
  check_mpi(MPI_Send(header, 4, MPI_INT64_T, chief, kCheckpointTag, MPI_COMM_WORLD),
            "MPI_Send (checkpoint)");
  check_mpi(MPI_Send(params_.data(), static_cast<int>(params_.size()), MPI_FLOAT, chief,
                     kCheckpointTag, MPI_COMM_WORLD),
            "MPI_Send (checkpoint)");
  for (const auto& [name, buffer] : state) {
    check_mpi(MPI_Send(buffer->data(), static_cast<int>(buffer->size()), MPI_FLOAT, chief,
                       kCheckpointTag, MPI_COMM_WORLD),
              "MPI_Send (checkpoint)");
  }
}

nlohmann::json ParameterServer::serve(optim::LrSchedule schedule) {
  schedule_ = schedule;
  const double start = now_seconds();
  double last_activity = start;
  Backoff backoff;
  for (;;) {
    // Transports whose one-sided atomics need the target (UCX, TCP) advance here.
    progress();
    if (const int64_t request = load(W::kCheckpoint); request > checkpoints_served_) {
      send_state();
      checkpoints_served_ = request;
    }
    const int64_t pending = load(W::kPushes0 + static_cast<int>(active_));
    if (pending > 0) {
      drain(active_);
      last_activity = now_seconds();
      backoff.reset();
      continue;
    }
    if (load(W::kDone) == layout_.workers) {
      // Every worker's last push completed before it said so: nothing can arrive any more.
      if (load(W::kPushes0) == 0 && load(W::kPushes1) == 0) break;
      continue;
    }
    // A push under way needs this server's progress on some transports (pt2pt, UCX): spin.
    if (load(W::kInflight0) + load(W::kInflight1) > 0) backoff.reset();
    if (now_seconds() - last_activity > rma_.stall().timeout()) {
      rma_.stall().abort(
          "parameter server " + std::to_string(self_) + " waiting for gradients",
          [&] { return unfinished_workers(); }, now_seconds() - last_activity);
    }
    backoff.pause();
  }
  store(W::kFinished, 1);
  const double wall = now_seconds() - start;
  return {{"rank", self_},
          {"shard_floats", params_.size()},
          {"versions", version_},
          {"pushes_applied", applied_},
          {"drains", drains_},
          {"mean_pushes_per_drain",
           drains_ ? static_cast<double>(applied_) / static_cast<double>(drains_) : 0.0},
          {"max_pushes_per_drain", max_merged_},
          {"optimizer_seconds", optimizer_seconds_},
          {"quiesce_seconds", quiesce_seconds_},
          {"busy_fraction", wall > 0 ? busy_seconds_ / wall : 0.0},
          {"serve_seconds", wall}};
}

}  // namespace dtrain::comm
