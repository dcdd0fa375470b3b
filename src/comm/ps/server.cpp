#include "comm/ps/server.h"

#include <bit>
#include <cstring>

#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::comm {

using W = PsLayout::Word;

ParameterServer::ParameterServer(PsWindow& window, std::span<const float> initial,
                                 const optim::OptimizerConfig& optimizer, const ServerStart& start,
                                 StallPolicy stall, Watchdog* watchdog)
    : window_(window),
      layout_(window.layout(window.roles().ps_index(window.roles().rank))),
      self_(window.roles().ps_index(window.roles().rank)),
      params_(initial.size()),
      optimizer_(optim::make_optimizer(optimizer, initial.size())),
      rma_(window, stall, watchdog),
      watchdog_(watchdog) {
  if (window_.memory_model() != MPI_WIN_UNIFIED) {
    throw Error(
        "the MPI window is not in the unified memory model, which the parameter server's "
        "polling of its own window needs; use another osc component (--mca osc sm, rdma, "
        "pt2pt or ucx)");
  }
  std::copy(initial.begin(), initial.end(), params_.data());
  optim::restore_state(*optimizer_, start.optimizer_state, start.optimizer_steps);
  applied_ = start.pushes_applied;
  stats_.first_applied = applied_;
  // Version 0 in slot 0; nobody reads the window before the barrier that follows construction.
  std::memcpy(window_.local() + layout_.slot(0), params_.data(), params_.size() * sizeof(float));
  store(W::kApplied, applied_);
  // A receive nobody will ever match, on a private communicator: testing it drives progress.
  mpi_call("MPI_Comm_dup (server progress)", MPI_Comm_dup, MPI_COMM_SELF, &idle_comm_);
  mpi_call("MPI_Irecv (server progress)", MPI_Irecv, &idle_buffer_, 1, MPI_INT, MPI_ANY_SOURCE, 0,
           idle_comm_, &idle_request_);
}

ParameterServer::~ParameterServer() {
  MpiLock lock(mpi_mutex());
  MPI_Cancel(&idle_request_);
  MPI_Wait(&idle_request_, MPI_STATUS_IGNORE);
  MPI_Comm_free(&idle_comm_);
}

int64_t ParameterServer::load(int word) {
  mpi_call("MPI_Win_sync", MPI_Win_sync, window_.win());
  return __atomic_load_n(&local<int64_t>(PsLayout::word(word)), __ATOMIC_ACQUIRE);
}

void ParameterServer::store(int word, int64_t value) {
  __atomic_store_n(&local<int64_t>(PsLayout::word(word)), value, __ATOMIC_RELEASE);
  mpi_call("MPI_Win_sync", MPI_Win_sync, window_.win());
}

void ParameterServer::progress() {
  // MPI_Test on a receive that never matches runs Open MPI's whole progress engine (every
  // component's callbacks, osc/ucx's worker included); MPI_Iprobe with pml/ucx would only
  // poll the PML's own UCX worker.
  int flag = 0;
  mpi_call("MPI_Test (server progress)", MPI_Test, &idle_request_, &flag, MPI_STATUS_IGNORE);
}

bool ParameterServer::pending() {
  return load(W::kPushes0) + load(W::kPushes1) + load(W::kInflight0) + load(W::kInflight1) > 0;
}

void ParameterServer::drain(int64_t old) {
  // Close the buffer: new pushes go to the other one; wait for the pushes under way to land.
  TimelineSpan span("drain", "server", version_ + 1);
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
  stats_.quiesce_seconds += now_seconds() - t0;
  if (apply(old, W::kPushes0 + static_cast<int>(old))) busy_seconds_ += now_seconds() - t0;
}

bool ParameterServer::apply(int64_t buffer, int pushes_word) {
  const double t1 = now_seconds();
  auto* acc = reinterpret_cast<float*>(window_.local() + layout_.acc(buffer));
  int64_t& pushes = local<int64_t>(PsLayout::word(pushes_word));
  const int64_t merged = pushes;
  if (merged == 0) return false;  // only withdrawn pushes: nothing to apply, no optimizer step
  // The accumulator holds the sum of `merged` pushes, each a mean over its batch: one step on
  // the sum applies every pushed gradient exactly once.
  const float lr = schedule_.at(applied_);
  {
    TimelineSpan apply("apply (optimizer)", "compute", version_ + 1, static_cast<double>(merged));
    optimizer_->step(params_.span(), {acc, params_.size()}, lr, 1.0f);
  }
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
  store(W::kLearningRate, std::bit_cast<int32_t>(lr));
  stats_.learning_rate = lr;
  ++stats_.drains;
  stats_.max_merged = std::max(stats_.max_merged, merged);
  stats_.optimizer_seconds += t2 - t1;
  return true;
}

int64_t ParameterServer::clock_of(int worker) {
  if (self_ == 0) {  // the clocks and records live on server 0
    mpi_call("MPI_Win_sync", MPI_Win_sync, window_.win());
    return __atomic_load_n(&local<int64_t>(layout_.clock(worker)), __ATOMIC_ACQUIRE);
  }
  return rma_.read(window_.roles().ps_rank(0), window_.layout(0).clock(worker),
                   "reading worker clocks");
}

std::string ParameterServer::unfinished_workers() {
  const int w = layout_.workers;
  std::vector<int64_t> clocks(static_cast<std::size_t>(w));
  std::vector<double> finished(static_cast<std::size_t>(w));
  for (int i = 0; i < w; ++i) {
    clocks[static_cast<std::size_t>(i)] = clock_of(i);
    finished[static_cast<std::size_t>(i)] =
        self_ == 0 ? local<WorkerRecord>(layout_.record(i)).finished
                   : rma_.read_doubles(window_.roles().ps_rank(0), window_.layout(0).record(i), 1,
                                       "reading worker state")[0];
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

void ParameterServer::drain_pending() {
  // The workers are paused at the agreed step (a checkpoint) or push their later steps to
  // the hold (a cut), so this ends.
  while (pending()) {
    progress();
    drain(active_);
  }
}

bool ParameterServer::cut_reached(int64_t step) {
  for (int w = 0; w < layout_.workers; ++w)
    if (clock_of(w) < step) return false;
  return true;
}

void ParameterServer::keep_state_locally(int64_t step) {
  TimelineSpan span("local checkpoint: keep state", "io", step);
  const double t0 = now_seconds();
  // Every push of a step <= `step` has landed in acc 0/1, and the later ones go to the hold.
  drain_pending();
  ShardSnapshot snap;
  snap.step = step;
  snap.params.assign(params_.data(), params_.data() + params_.size());
  for (const auto& [name, buffer] : optimizer_->state())
    snap.optimizer_state.emplace_back(
        name, std::vector<float>(buffer->data(), buffer->data() + buffer->size()));
  snap.pushes_applied = applied_;
  snap.optimizer_steps = optimizer_->steps();
  local_.keep(std::move(snap));
  // Taken: new pushes come as usual; the held ones are applied once the last has landed.
  store(W::kCutTaken, step);
  rma_.stall().wait_until(
      [&] {
        progress();
        return load(W::kInflightHold) == 0;
      },
      "waiting for held gradient pushes on parameter server " + std::to_string(self_),
      [&] { return "a worker began a held push and never finished it; " + unfinished_workers(); });
  apply(PsLayout::kHold, W::kPushesHold);
  const int64_t answer[2] = {step, static_cast<int64_t>(1e6 * (now_seconds() - t0))};
  Watchdog::Scope guard(watchdog_, "telling the chief a node-local checkpoint is kept");
  mpi_call("MPI_Send (node-local checkpoint kept)", MPI_Send, answer, 2, MPI_INT64_T,
           window_.roles().chief_rank(), kLocalCheckpointTag, MPI_COMM_WORLD);
}

void ParameterServer::send_state() {
  TimelineSpan span("checkpoint: send state", "io");
  // Every push that completed before the request is applied first.
  drain_pending();
  const auto state = optimizer_->state();
  const int64_t header[4] = {applied_, optimizer_->steps(), version_,
                             static_cast<int64_t>(state.size())};
  const int chief = window_.roles().chief_rank();
  const char* what = "MPI_Send (server state for a checkpoint)";
  Watchdog::Scope guard(watchdog_, "sending server state to the chief for a checkpoint");
  mpi_call(what, MPI_Send, header, 4, MPI_INT64_T, chief, kCheckpointTag, MPI_COMM_WORLD);
  mpi_call(what, MPI_Send, params_.data(), static_cast<int>(params_.size()), MPI_FLOAT, chief,
           kCheckpointTag, MPI_COMM_WORLD);
  for (const auto& [name, buffer] : state) {
    mpi_call(what, MPI_Send, buffer->data(), static_cast<int>(buffer->size()), MPI_FLOAT, chief,
             kCheckpointTag, MPI_COMM_WORLD);
  }
}

ServerStats ParameterServer::serve(optim::LrSchedule schedule) {
  schedule_ = schedule;
  store(W::kLearningRate, std::bit_cast<int32_t>(schedule_.at(applied_)));
  const double start = now_seconds();
  double last_activity = start;
  Backoff backoff;
  for (;;) {
    // Transports whose one-sided atomics need the target (UCX, TCP) advance here.
    progress();
    if (const int64_t request = load(W::kCheckpoint); request > checkpoints_served_) {
      send_state();
      checkpoints_served_ = request;
      last_activity = now_seconds();
    }
    if (const int64_t step = load(W::kLocalCheckpoint);
        local_.keep && step > local_served_ && cut_reached(step)) {
      keep_state_locally(step);
      local_served_ = step;
      last_activity = now_seconds();
    }
    if (local_.poll) local_.poll();
    if (load(W::kPushes0 + static_cast<int>(active_)) > 0) {
      drain(active_);
      last_activity = now_seconds();
      backoff.reset();
      continue;
    }
    if (load(W::kDone) == layout_.workers) {
      // Every worker's last push completed before it said so: nothing can arrive any more.
      if (load(W::kPushes0) == 0 && load(W::kPushes1) == 0 && !cut_pending()) break;
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
  stats_.rank = self_;
  stats_.shard_floats = params_.size();
  stats_.versions = version_;
  stats_.pushes_applied = applied_;
  stats_.serve_seconds = now_seconds() - start;
  stats_.busy_fraction = stats_.serve_seconds > 0 ? busy_seconds_ / stats_.serve_seconds : 0.0;
  if (stats_.drains == 0) stats_.learning_rate = schedule_.at(applied_);
  return stats_;
}

}  // namespace dtrain::comm
