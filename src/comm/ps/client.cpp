#include "comm/ps/client.h"

#include <algorithm>
#include <bit>

#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::comm {

using W = PsLayout::Word;

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
  publish_clock("publishing this worker's clock");
}

void ParameterServerClient::publish_clock(const char* what) {
  rma_.replace(server(0), window_.layout(0).clock(worker_), clock_, what);
}

void ParameterServerClient::take_work(int64_t first, int64_t end) {
  taking_ = true;
  first_chunk_ = first;
  end_chunk_ = end;
  all_taken_ = first >= end;
}

std::vector<int64_t> ParameterServerClient::take(std::size_t depth) {
  std::vector<int64_t> taken;
  while (held_.size() < depth && !all_taken_) {
    const int64_t g =
        first_chunk_ + rma_.add(server(0), PsLayout::word(W::kChunksTaken), 1, "taking work");
    if (g >= end_chunk_) {
      all_taken_ = true;
      break;
    }
    held_.push_back(g);
    taken.push_back(g);
  }
  hold_first(held_.empty() ? total_steps_ : held_.front() / workers_);  // once
  return taken;
}

void ParameterServerClient::hold_first(int64_t step) {
  // Before its first chunk is trained, the clock names its step (an agreed step must cover
  // it), and no agreed step is chosen until every worker's clock does. Only the first call.
  if (holding_) return;
  holding_ = true;
  clock_ = step;
  publish_clock("publishing the step of the work taken");
  rma_.add(server(0), PsLayout::word(W::kWorkersHolding), 1, "announcing the work taken");
  if (!window_.roles().is_chief()) return;
  int64_t holding = 0;
  rma_.stall().wait_until(
      [&] {
        holding = rma_.read(server(0), PsLayout::word(W::kWorkersHolding), "reading the workers");
        return holding >= workers_;
      },
      "chief waiting for every worker to take its first work",
      [&] {
        return std::to_string(holding) + " of " + std::to_string(workers_) +
               " workers have taken theirs";
      });
}

std::vector<int64_t> ParameterServerClient::read_clocks() {
  return rma_.read_words(server(0), window_.layout(0).clock(0), workers_, "reading worker clocks");
}

std::vector<int> ParameterServerClient::ranks_behind(int64_t needed) const {
  std::vector<int> ranks;
  for (int w = 0; w < workers_; ++w) {
    if (w < static_cast<int>(last_clocks_.size()) &&
        last_clocks_[static_cast<std::size_t>(w)] < needed) {
      ranks.push_back(window_.roles().worker_rank(w));
    }
  }
  return ranks;
}

void ParameterServerClient::wait_for_stragglers() {
  if (max_staleness_ < 0 || clock_ <= max_staleness_) return;
  const int64_t needed = clock_ - max_staleness_;
  TimelineSpan span("staleness wait", "wait", clock_);
  const double t0 = now_seconds();
  rma_.stall().wait_until(
      [&] {
        last_clocks_ = read_clocks();
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
      [&] {
        return "workers more than " + std::to_string(max_staleness_) + " steps behind: ranks " +
               rank_list(ranks_behind(needed));
      });
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
  if (!taking_) {
    ++clock_;
  } else {
    held_.pop_front();
    clock_ = held_.empty() ? total_steps_ : held_.front() / workers_;
  }
  publish_clock("advancing this worker's clock");
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
  rma_.replace_doubles(server(0), window_.layout(0).record(worker_), r.to_doubles(),
                       "recording worker statistics");
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    rma_.add(server(static_cast<int>(p)), PsLayout::word(W::kDone), 1,
             "announcing the end of training");
  }
}

void ParameterServerClient::publish_compute(double seconds, double rows) {
  rma_.replace_doubles(server(0), window_.layout(0).compute(worker_), {seconds, rows},
                       "publishing this worker's compute time");
}

std::vector<double> ParameterServerClient::read_compute() {
  const auto pairs = rma_.read_doubles(server(0), window_.layout(0).compute(0), 2 * workers_,
                                       "reading the workers' compute times");
  std::vector<double> out(pairs.size());
  for (int w = 0; w < workers_; ++w) {
    out[static_cast<std::size_t>(w)] = pairs[static_cast<std::size_t>(2 * w)];
    out[static_cast<std::size_t>(workers_ + w)] = pairs[static_cast<std::size_t>(2 * w + 1)];
  }
  return out;
}

int64_t ParameterServerClient::server_version(int ps) {
  return rma_.read(server(ps), PsLayout::word(W::kVersion), "reading the weights version");
}

std::optional<float> ParameterServerClient::applied_learning_rate() {
  const int64_t bits =
      rma_.read(server(0), PsLayout::word(W::kLearningRate), "reading the learning rate");
  return std::bit_cast<float>(static_cast<int32_t>(bits));
}

ExchangeStats ParameterServerClient::stats() const {
  const double n = std::max(1.0, staleness_count_);
  ExchangeStats e;
  e.comm_wait_seconds_per_step = (ssp_wait_seconds_ + agree_wait_seconds_) / n;
  PushPullStats& p = e.push_pull.emplace();
  p.pull_seconds_per_step = pull_seconds_ / n;
  p.push_seconds_per_step = push_seconds_ / n;
  p.pull_gbps = pull_seconds_ > 0 ? bytes_ * n / pull_seconds_ / 1e9 : 0.0;
  p.push_gbps = push_seconds_ > 0 ? bytes_ * n / push_seconds_ / 1e9 : 0.0;
  p.bytes_per_step = 2 * bytes_;
  p.staleness_mean = staleness_sum_ / n;
  p.staleness_max = staleness_max_;
  p.staleness_wait_seconds = ssp_wait_seconds_;
  return e;
}

}  // namespace dtrain::comm
