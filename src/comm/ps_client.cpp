#include "comm/ps_client.h"

#include <algorithm>
#include <bit>

#include "comm/parameter_server.h"
#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::comm {

using W = PsLayout::Word;

namespace {

std::vector<double> to_doubles(const WorkerRecord& r) {
  return {r.finished,      r.images,          r.train_seconds, r.staleness_sum,
          r.staleness_max, r.staleness_count, r.pull_retries,  r.staleness_wait_seconds};
}

WorkerRecord from_doubles(const std::vector<double>& v) {
  return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
}

}  // namespace

ParameterServerClient::ParameterServerClient(PsWindow& window, int64_t max_staleness,
                                             int64_t total_steps, StallPolicy stall,
                                             Watchdog* watchdog)
    : window_(window),
      rma_(window, stall, watchdog),
      max_staleness_(max_staleness),
      total_steps_(total_steps),
      worker_(window.roles().worker_index()),
      workers_(window.roles().num_workers()),
      pulled_version_(window.shards().size(), 0) {
  for (const auto& s : window.shards()) bytes_ += static_cast<double>(s.size() * sizeof(float));
}

void ParameterServerClient::start_at(int64_t steps) {
  clock_ = steps;
  rma_.replace(server(0), window_.layout(0).clock(worker_), clock_,
               "publishing this worker's clock");
}

std::string ParameterServerClient::workers_behind(int64_t needed) {
  std::vector<int> ranks;
  for (int w = 0; w < workers_; ++w) {
    if (w < static_cast<int>(last_clocks_.size()) &&
        last_clocks_[static_cast<std::size_t>(w)] < needed) {
      ranks.push_back(window_.roles().worker_rank(w));
    }
  }
  return "workers more than " + std::to_string(max_staleness_) + " steps behind: ranks " +
         rank_list(ranks);
}

void ParameterServerClient::wait_for_stragglers() {
  if (max_staleness_ < 0 || clock_ <= max_staleness_) return;
  const int64_t needed = clock_ - max_staleness_;
  TimelineSpan span("staleness wait", "wait", clock_);
  const double t0 = now_seconds();
  rma_.stall().wait_until(
      [&] {
        last_clocks_ = rma_.read_words(server(0), window_.layout(0).clock(0), workers_,
                                       "reading worker clocks");
        for (int w = 0; w < workers_; ++w) {
          if (last_clocks_[static_cast<std::size_t>(w)] >= needed) continue;
          // A finished worker never holds anyone back.
          const auto finished =
              rma_.read_doubles(server(0), window_.layout(0).record(w), 1, "reading worker state");
          if (finished[0] == 0.0) return false;
        }
        return true;
      },
      "worker " + std::to_string(worker_) + " waiting (--max-staleness " +
          std::to_string(max_staleness_) + ")",
      [&] { return workers_behind(needed); });
  ssp_wait_seconds_ += now_seconds() - t0;
}

void ParameterServerClient::pull(float* params) {
  TimelineSpan span("pull", "exchange", clock_, bytes_);
  const double t0 = now_seconds();
  const auto& shards = window_.shards();
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    const PsLayout& l = window_.layout(ps);
    for (;;) {
      const int64_t v = server_version(ps);
      rma_.get(server(ps), l.slot(v), params + shards[p].begin, shards[p].size(),
               "pulling weights");
      const int64_t after = server_version(ps);
      // Slot v%3 is rewritten only for version v+3, begun after v+2 was published.
      if (after - v <= 1) {
        pulled_version_[p] = v;
        break;
      }
      ++pull_retries_;
    }
  }
  pull_seconds_ += now_seconds() - t0;
}

int64_t ParameterServerClient::enter_hold(int ps) {
  // Steps past a pending cut go to the hold of every server that has not taken it yet.
  if (cut_ < 0 || clock_ + 1 <= cut_ || cut_taken_[static_cast<std::size_t>(ps)]) return -1;
  const int target = server(ps);
  rma_.add(target, PsLayout::word(W::kInflightHold), 1, "announcing a held push");
  if (rma_.read(target, PsLayout::word(W::kCutTaken), "reading the cut taken") < cut_)
    return PsLayout::kHold;
  // Taken meanwhile: back out and push as usual.
  rma_.add(target, PsLayout::word(W::kInflightHold), -1, "withdrawing a held push");
  cut_taken_[static_cast<std::size_t>(ps)] = 1;
  return -1;
}

int64_t ParameterServerClient::enter_accumulator(int ps) {
  if (const int64_t hold = enter_hold(ps); hold >= 0) return hold;
  const int target = server(ps);
  int64_t b = rma_.read(target, PsLayout::word(W::kActive), "reading the active accumulator");
  for (;;) {
    rma_.add(target, PsLayout::word(W::kInflight0 + static_cast<int>(b)), 1, "announcing a push");
    const int64_t now =
        rma_.read(target, PsLayout::word(W::kActive), "reading the active accumulator");
    if (now == b) return b;
    // The server closed b meanwhile: back out and use the new one.
    rma_.add(target, PsLayout::word(W::kInflight0 + static_cast<int>(b)), -1, "withdrawing a push");
    b = now;
  }
}

void ParameterServerClient::push(const float* grads) {
  TimelineSpan span("push", "exchange", clock_, bytes_);
  const double t0 = now_seconds();
  const auto& shards = window_.shards();
  double stale = 0;
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p), target = server(ps);
    const PsLayout& l = window_.layout(ps);
    const int64_t b = enter_accumulator(ps);
    const bool held = b == PsLayout::kHold;
    rma_.accumulate(target, l.acc(b), grads + shards[p].begin, shards[p].size(),
                    "pushing gradients");
    // The version is read before the push is counted: once it is, the server starts its
    // optimizer step and (on transports that need it) cannot serve this read until it ends.
    const int64_t version = server_version(ps);
    stale = std::max(stale, static_cast<double>(version - pulled_version_[p]));
    rma_.add(target, PsLayout::word(held ? W::kPushesHold : W::kPushes0 + static_cast<int>(b)), 1,
             "counting a push");
    rma_.add(target, PsLayout::word(held ? W::kInflightHold : W::kInflight0 + static_cast<int>(b)),
             -1, "completing a push");
  }
  staleness_sum_ += stale;
  staleness_max_ = std::max(staleness_max_, stale);
  ++staleness_count_;
  push_seconds_ += now_seconds() - t0;
  timeline::counter("staleness", timeline::now_us(), stale);
}

void ParameterServerClient::before_step(nn::Replica& replica, int64_t) {
  wait_for_stragglers();
  pull(replica.params().data());
}

void ParameterServerClient::after_step(nn::Replica& replica, int64_t, float) {
  push(replica.grads().data());
  ++clock_;
  rma_.replace(server(0), window_.layout(0).clock(worker_), clock_,
               "advancing this worker's clock");
}

int64_t ParameterServerClient::read_agreed() {
  int64_t agreed = 0;
  rma_.stall().wait_until(
      [&] {
        agreed = rma_.read(server(0), PsLayout::word(W::kAgreed), "reading the agreed step");
        return agreed != PsLayout::kChoosing;
      },
      "worker " + std::to_string(worker_) + " waiting for the chief to choose a step",
      [&] { return "the chief, rank " + std::to_string(window_.roles().chief_rank()); });
  return agreed;
}

void ParameterServerClient::propose(int64_t done, int64_t kind) {
  rma_.replace(server(0), PsLayout::word(W::kAgreed), PsLayout::kChoosing,
               "announcing a step choice");
  const auto clocks =
      rma_.read_words(server(0), window_.layout(0).clock(0), workers_, "reading worker clocks");
  int64_t step = done;
  for (int w = 0; w < workers_; ++w) {
    if (w != worker_) step = std::max(step, clocks[static_cast<std::size_t>(w)] + 1);
  }
  step = std::min(step, total_steps_);
  rma_.replace(server(0), PsLayout::word(W::kAgreed), step * PsLayout::kKinds + kind,
               "publishing the agreed step");
}

int ParameterServerClient::agree(int requests, int64_t done, bool last) {
  TimelineSpan span("agree on checkpoint/stop", "wait", done);
  const double t0 = now_seconds();
  const bool chief = window_.roles().is_chief();
  // Requests go to server 0, where the chief sees them (its own included).
  if ((requests & kStopRequest) && !stop_announced_) {
    rma_.add(server(0), PsLayout::word(W::kStopRequests), 1, "announcing a stop request");
    stop_announced_ = true;
  }
  if (requests & kCheckpointRequest)
    rma_.add(server(0), PsLayout::word(W::kCheckpointRequests), 1,
             "announcing a checkpoint request");
  int64_t agreed = read_agreed();
  if (chief && agreed == 0) {
    const auto asked = rma_.read_words(server(0), PsLayout::word(W::kStopRequests), 2,
                                       "reading stop/checkpoint requests");
    int64_t kind = 0;
    if (asked[0] > stops_handled_) kind |= PsLayout::kStopAt;
    if (asked[1] > checkpoints_handled_) kind |= PsLayout::kCheckpointAt;
    // A node-local checkpoint too, at an agreed step: a cut (ps_window.h), so that every server
    // keeps the same pushes (taken at the chief's own step, the shards once disagreed by a push).
    if (requests & kLocalCheckpointRequest) kind |= PsLayout::kLocalAt;
    if (kind != 0) {
      stops_handled_ = asked[0];
      checkpoints_handled_ = asked[1];
      propose(done, kind);
      agreed = read_agreed();
    }
  }
  note_cut(agreed);
  int decision = kNoRequest;
  if (agreed > 0 && agreed / PsLayout::kKinds == done) {
    const int64_t kind = agreed % PsLayout::kKinds;
    if (kind == PsLayout::kLocalAt) {
      decision = kLocalCheckpointRequest;  // a cut: nobody waits (ps_window.h)
    } else if (kind & PsLayout::kStopAt) {
      decision = kCheckpointRequest | kStopRequest;
    } else {  // kind checkpoint (with or without local, which it makes redundant)
      decision = kCheckpointRequest;
      // Non-chief workers pause until the chief has written the checkpoint of this step.
      if (!chief && !last) {
        rma_.stall().wait_until(
            [&] {
              return rma_.read(server(0), PsLayout::word(W::kCheckpointDone),
                               "reading checkpoint state") >= done;
            },
            "worker " + std::to_string(worker_) + " waiting for the checkpoint of step " +
                std::to_string(done),
            [&] { return "the chief, rank " + std::to_string(window_.roles().chief_rank()); });
      }
    }
  }
  agree_wait_seconds_ += now_seconds() - t0;
  return decision;
}

void ParameterServerClient::wait_for_clocks(int64_t steps) {
  rma_.stall().wait_until(
      [&] {
        last_clocks_ = rma_.read_words(server(0), window_.layout(0).clock(0), workers_,
                                       "reading worker clocks");
        return std::all_of(last_clocks_.begin(), last_clocks_.end(),
                           [&](int64_t c) { return c >= steps; });
      },
      "chief waiting for every worker to reach step " + std::to_string(steps),
      [&] {
        std::vector<int> ranks;
        for (int w = 0; w < workers_; ++w)
          if (last_clocks_[static_cast<std::size_t>(w)] < steps)
            ranks.push_back(window_.roles().worker_rank(w));
        return "workers behind: ranks " + rank_list(ranks);
      });
}

void ParameterServerClient::note_cut(int64_t agreed) {
  if (agreed <= 0 || agreed % PsLayout::kKinds != PsLayout::kLocalAt) return;
  const int64_t step = agreed / PsLayout::kKinds;
  if (step == cut_) return;
  cut_ = step;
  cut_taken_.assign(window_.shards().size(), 0);
}

void ParameterServerClient::begin_local_cut(int64_t steps) {
  const auto& shards = window_.shards();
  cut_acks_.assign(shards.size(), {-1, 0});
  cut_requests_.assign(shards.size(), MPI_REQUEST_NULL);
  for (std::size_t p = 0; p < shards.size(); ++p) {
    mpi_call("MPI_Irecv (a server's node-local checkpoint)", MPI_Irecv, cut_acks_[p].data(), 2,
             MPI_INT64_T, server(static_cast<int>(p)), ParameterServer::kLocalCheckpointTag,
             MPI_COMM_WORLD, &cut_requests_[p]);
  }
  for (std::size_t p = 0; p < shards.size(); ++p) {
    rma_.replace(server(static_cast<int>(p)), PsLayout::word(W::kLocalCheckpoint), steps,
                 "asking for a node-local checkpoint");
  }
  cut_asked_ = steps;
}

std::optional<int64_t> ParameterServerClient::local_cut_kept(bool wait) {
  if (cut_asked_ < 0) return std::nullopt;
  const std::string what =
      "the servers' node-local checkpoints of step " + std::to_string(cut_asked_);
  if (wait) {
    rma_.stall().wait(cut_requests_, what, [&] { return std::string("a parameter server"); });
  } else {
    int all = 0;
    mpi_call("MPI_Testall (servers' node-local checkpoints)", MPI_Testall,
             static_cast<int>(cut_requests_.size()), cut_requests_.data(), &all,
             MPI_STATUSES_IGNORE);
    if (!all) return std::nullopt;
  }
  int64_t slowest_us = 0;
  for (const auto& ack : cut_acks_) slowest_us = std::max(slowest_us, ack[1]);
  server_keep_seconds_ += 1e-6 * static_cast<double>(slowest_us);
  ++cuts_kept_;
  const int64_t step = cut_asked_;
  cut_asked_ = -1;
  return step;
}

void ParameterServerClient::checkpoint_written(int64_t steps) {
  rma_.replace(server(0), PsLayout::word(W::kCheckpointDone), steps,
               "announcing a written checkpoint");
  rma_.replace(server(0), PsLayout::word(W::kAgreed), 0, "clearing the agreed step");
}

void ParameterServerClient::finish() {
  WorkerRecord r;
  r.finished = 1;
  r.images = images_;
  r.train_seconds = train_seconds_;
  r.staleness_sum = staleness_sum_;
  r.staleness_max = staleness_max_;
  r.staleness_count = staleness_count_;
  r.pull_retries = pull_retries_;
  r.staleness_wait_seconds = ssp_wait_seconds_;
  rma_.replace_doubles(server(0), window_.layout(0).record(worker_), to_doubles(r),
                       "recording worker statistics");
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    rma_.add(server(static_cast<int>(p)), PsLayout::word(W::kDone), 1,
             "announcing the end of training");
  }
}

int64_t ParameterServerClient::server_version(int ps) {
  return rma_.read(server(ps), PsLayout::word(W::kVersion), "reading the weights version");
}

std::optional<float> ParameterServerClient::applied_learning_rate() {
  const int64_t bits =
      rma_.read(server(0), PsLayout::word(W::kLearningRate), "reading the learning rate");
  return std::bit_cast<float>(static_cast<int32_t>(bits));
}

void ParameterServerClient::pull_final(float* params) {
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    const int ps = static_cast<int>(p);
    rma_.stall().wait_until(
        [&] {
          return rma_.read(server(ps), PsLayout::word(W::kFinished), "reading the server state") ==
                 1;
        },
        "chief waiting for parameter server " + std::to_string(ps) + " to apply the last gradients",
        [&] { return "parameter server rank " + std::to_string(server(ps)) + " or a worker"; });
  }
  pull(params);
}

WorkerRecord ParameterServerClient::all_workers() const {
  WorkerRecord sum;
  sum.finished = 1;
  for (int w = 0; w < workers_; ++w) {
    const WorkerRecord r = from_doubles(rma_.read_doubles(
        0, window_.layout(0).record(w), WorkerRecord::kDoubles, "reading worker statistics"));
    sum.finished = std::min(sum.finished, r.finished);
    sum.images += r.images;
    sum.train_seconds = std::max(sum.train_seconds, r.train_seconds);
    sum.staleness_sum += r.staleness_sum;
    sum.staleness_max = std::max(sum.staleness_max, r.staleness_max);
    sum.staleness_count += r.staleness_count;
    sum.pull_retries += r.pull_retries;
    sum.staleness_wait_seconds += r.staleness_wait_seconds;
  }
  return sum;
}

GatheredState ParameterServerClient::gather_state(int64_t steps, std::size_t total_floats,
                                                  const std::vector<std::string>& state_names) {
  wait_for_clocks(steps);
  GatheredState g;
  g.params.assign(total_floats, 0.f);
  for (const auto& name : state_names)
    g.optimizer.emplace_back(name, std::vector<float>(total_floats, 0.f));
  ++checkpoint_requests_;
  const auto& shards = window_.shards();
  for (std::size_t p = 0; p < shards.size(); ++p) {
    rma_.replace(server(static_cast<int>(p)), PsLayout::word(W::kCheckpoint), checkpoint_requests_,
                 "requesting a checkpoint");
  }
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    int64_t header[4] = {};
    std::vector<MPI_Request> reqs(2 + state_names.size(), MPI_REQUEST_NULL);
    const char* what = "MPI_Irecv (server state for a checkpoint)";
    const auto count = static_cast<int>(shards[p].size());
    const int from = server(ps);
    mpi_call(what, MPI_Irecv, header, 4, MPI_INT64_T, from, ParameterServer::kCheckpointTag,
             MPI_COMM_WORLD, &reqs[0]);
    mpi_call(what, MPI_Irecv, g.params.data() + shards[p].begin, count, MPI_FLOAT, from,
             ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[1]);
    for (std::size_t i = 0; i < state_names.size(); ++i) {
      mpi_call(what, MPI_Irecv, g.optimizer[i].second.data() + shards[p].begin, count, MPI_FLOAT,
               from, ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[2 + i]);
    }
    rma_.stall().wait(
        reqs, "receiving parameter server " + std::to_string(ps) + "'s state for a checkpoint",
        [&] { return "parameter server rank " + std::to_string(from); });
    if (header[3] != static_cast<int64_t>(state_names.size())) {
      throw Error("parameter server " + std::to_string(ps) + " sent " + std::to_string(header[3]) +
                  " optimizer state arrays, expected " + std::to_string(state_names.size()));
    }
    g.servers.push_back({shards[p], header[0], header[1], header[2]});
  }
  g.worker_steps =
      rma_.read_words(server(0), window_.layout(0).clock(0), workers_, "reading worker clocks");
  return g;
}

ExchangeStats ParameterServerClient::stats() const {
  const double n = std::max(1.0, staleness_count_);
  double bytes = 0;
  for (const auto& s : window_.shards()) bytes += static_cast<double>(s.size()) * sizeof(float);
  ExchangeStats e;
  e.comm_wait_seconds_per_step = (ssp_wait_seconds_ + agree_wait_seconds_) / n;
  PushPullStats& p = e.push_pull.emplace();
  p.pull_seconds_per_step = pull_seconds_ / n;
  p.push_seconds_per_step = push_seconds_ / n;
  p.pull_gbps = pull_seconds_ > 0 ? bytes * n / pull_seconds_ / 1e9 : 0.0;
  p.push_gbps = push_seconds_ > 0 ? bytes * n / push_seconds_ / 1e9 : 0.0;
  p.bytes_per_step = 2 * bytes;
  p.staleness_mean = staleness_sum_ / n;
  p.staleness_max = staleness_max_;
  p.staleness_wait_seconds = ssp_wait_seconds_;
  return e;
}

}  // namespace dtrain::comm
