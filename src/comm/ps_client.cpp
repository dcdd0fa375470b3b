#include "dtrain/comm/ps_client.h"

#include <algorithm>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/parameter_server.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"

namespace dtrain::comm {

using W = PsLayout::Word;

namespace {
// Fields of a worker's statistics record on server 0.
enum Stat {
  kFinished,
  kImages,
  kTrainSeconds,
  kStaleSum,
  kStaleMax,
  kStaleCount,
  kPullRetries,
  kSspWait
};
}  // namespace

ParameterServerClient::ParameterServerClient(PsWindow& window, int64_t max_staleness,
                                             StallPolicy stall, Watchdog* watchdog)
    : window_(window),
      rma_(window, stall, watchdog),
      max_staleness_(max_staleness),
      worker_(window.roles().worker_index()),
      workers_(window.roles().num_workers()),
      pulled_version_(window.shards().size(), 0) {}

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
  const double t0 = now_seconds();
  rma_.stall().wait_until(
      [&] {
        last_clocks_ =
            rma_.read_words(0, window_.layout(0).clock(0), workers_, "reading worker clocks");
        for (int w = 0; w < workers_; ++w) {
          if (last_clocks_[static_cast<std::size_t>(w)] >= needed) continue;
          // A finished worker never holds anyone back.
          const auto finished =
              rma_.read_doubles(0, window_.layout(0).stats(w), 1, "reading worker state");
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
  const double t0 = now_seconds();
  const auto& shards = window_.shards();
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    const PsLayout& l = window_.layout(ps);
    for (;;) {
      const int64_t v = server_version(ps);
      rma_.get(ps, l.slot(v), params + shards[p].begin, shards[p].size(), "pulling weights");
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

void ParameterServerClient::push(const float* grads) {
  const double t0 = now_seconds();
  const auto& shards = window_.shards();
  double stale = 0;
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    const PsLayout& l = window_.layout(ps);
    int64_t b = rma_.read(ps, PsLayout::word(W::kActive), "reading the active accumulator");
    for (;;) {
      rma_.add(ps, PsLayout::word(W::kInflight0 + static_cast<int>(b)), 1, "announcing a push");
      const int64_t now =
          rma_.read(ps, PsLayout::word(W::kActive), "reading the active accumulator");
      if (now == b) break;
      // The server closed b meanwhile: back out and use the new one.
      rma_.add(ps, PsLayout::word(W::kInflight0 + static_cast<int>(b)), -1, "withdrawing a push");
      b = now;
    }
    rma_.accumulate(ps, l.acc(b), grads + shards[p].begin, shards[p].size(), "pushing gradients");
    // The version is read before the push is counted: once it is, the server starts its
    // optimizer step and (on transports that need it) cannot serve this read until it ends.
    const int64_t version = server_version(ps);
    stale = std::max(stale, static_cast<double>(version - pulled_version_[p]));
    rma_.add(ps, PsLayout::word(W::kPushes0 + static_cast<int>(b)), 1, "counting a push");
    rma_.add(ps, PsLayout::word(W::kInflight0 + static_cast<int>(b)), -1, "completing a push");
  }
  staleness_sum_ += stale;
  staleness_max_ = std::max(staleness_max_, stale);
  ++staleness_count_;
  push_seconds_ += now_seconds() - t0;
}

void ParameterServerClient::before_step(nn::Replica& replica, int64_t) {
  wait_for_stragglers();
  pull(replica.params().data());
}

void ParameterServerClient::after_step(nn::Replica& replica, int64_t, float) {
  push(replica.grads().data());
  ++clock_;
  rma_.replace(0, window_.layout(0).clock(worker_), clock_, "advancing this worker's clock");
}

void ParameterServerClient::finish() {
  std::vector<double> stats(PsLayout::kStatsPerWorker, 0.0);
  stats[kFinished] = 1;
  stats[kImages] = images_;
  stats[kTrainSeconds] = train_seconds_;
  stats[kStaleSum] = staleness_sum_;
  stats[kStaleMax] = staleness_max_;
  stats[kStaleCount] = staleness_count_;
  stats[kPullRetries] = pull_retries_;
  stats[kSspWait] = ssp_wait_seconds_;
  rma_.replace_doubles(0, window_.layout(0).stats(worker_), stats, "recording worker statistics");
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    rma_.add(static_cast<int>(p), PsLayout::word(W::kDone), 1, "announcing the end of training");
  }
}

int64_t ParameterServerClient::server_version(int ps) {
  return rma_.read(ps, PsLayout::word(W::kVersion), "reading the weights version");
}

void ParameterServerClient::pull_final(float* params) {
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    const int ps = static_cast<int>(p);
    rma_.stall().wait_until(
        [&] {
          return rma_.read(ps, PsLayout::word(W::kFinished), "reading the server state") == 1;
        },
        "chief waiting for parameter server " + std::to_string(ps) + " to apply the last gradients",
        [&] { return "parameter server rank " + std::to_string(ps) + " or a worker"; });
  }
  pull(params);
}

nlohmann::json ParameterServerClient::all_workers_stats() {
  double images = 0, seconds = 0, stale_sum = 0, stale_max = 0, stale_count = 0, retries = 0,
         ssp = 0;
  for (int w = 0; w < workers_; ++w) {
    const auto s = rma_.read_doubles(0, window_.layout(0).stats(w), PsLayout::kStatsPerWorker,
                                     "reading worker statistics");
    images += s[kImages];
    seconds = std::max(seconds, s[kTrainSeconds]);
    stale_sum += s[kStaleSum];
    stale_max = std::max(stale_max, s[kStaleMax]);
    stale_count += s[kStaleCount];
    retries += s[kPullRetries];
    ssp += s[kSspWait];
  }
  return {{"workers_images", images},
          {"workers_images_per_sec", seconds > 0 ? images / seconds : 0.0},
          {"staleness_mean", stale_count > 0 ? stale_sum / stale_count : 0.0},
          {"staleness_max", stale_max},
          {"pull_retries", retries},
          {"staleness_wait_seconds", ssp}};
}

ParameterServerClient::GatheredState ParameterServerClient::gather_state(
    std::size_t total_floats, const std::vector<std::string>& state_names) {
  GatheredState g;
  g.params.assign(total_floats, 0.f);
  for (const auto& name : state_names)
    g.optimizer.emplace_back(name, std::vector<float>(total_floats, 0.f));
  ++checkpoint_requests_;
  const auto& shards = window_.shards();
  for (std::size_t p = 0; p < shards.size(); ++p) {
    rma_.replace(static_cast<int>(p), PsLayout::word(W::kCheckpoint), checkpoint_requests_,
                 "requesting a checkpoint");
  }
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    int64_t header[4] = {};
    std::vector<MPI_Request> reqs(2 + state_names.size(), MPI_REQUEST_NULL);
    {
      std::lock_guard lock(mpi_mutex());
      MPI_Irecv(header, 4, MPI_INT64_T, ps, ParameterServer::kCheckpointTag, MPI_COMM_WORLD,
                &reqs[0]);
      MPI_Irecv(g.params.data() + shards[p].begin, static_cast<int>(shards[p].size()), MPI_FLOAT,
                ps, ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[1]);
      for (std::size_t i = 0; i < state_names.size(); ++i) {
        MPI_Irecv(g.optimizer[i].second.data() + shards[p].begin,
                  static_cast<int>(shards[p].size()), MPI_FLOAT, ps,
                  ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[2 + i]);
      }
    }
    rma_.stall().wait(
        reqs, "receiving parameter server " + std::to_string(ps) + "'s state for a checkpoint",
        [&] { return "parameter server rank " + std::to_string(ps); });
    if (header[3] != static_cast<int64_t>(state_names.size())) {
      throw Error("parameter server " + std::to_string(ps) + " sent " + std::to_string(header[3]) +
                  " optimizer state arrays, expected " + std::to_string(state_names.size()));
    }
    if (p == 0) {
      g.optimizer_steps = header[2];
      g.pushes_applied = header[1];
    }
  }
  g.worker_steps =
      rma_.read_words(0, window_.layout(0).clock(0), workers_, "reading worker clocks");
  return g;
}

nlohmann::json ParameterServerClient::stats() const {
  const double n = std::max(1.0, staleness_count_);
  double bytes = 0;
  for (const auto& s : window_.shards()) bytes += static_cast<double>(s.size()) * sizeof(float);
  return {{"pull_seconds_per_step", pull_seconds_ / n},
          {"push_seconds_per_step", push_seconds_ / n},
          {"pull_gbps", pull_seconds_ > 0 ? bytes * n / pull_seconds_ / 1e9 : 0.0},
          {"push_gbps", push_seconds_ > 0 ? bytes * n / push_seconds_ / 1e9 : 0.0},
          {"bytes_per_step", 2 * bytes},
          {"staleness_wait_seconds", ssp_wait_seconds_},
          {"staleness_mean", staleness_sum_ / n},
          {"staleness_max", staleness_max_}};
}

}  // namespace dtrain::comm
