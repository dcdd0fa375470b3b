// The async workers' agreement on a step (checkpoint, stop, node-local cut) and the chief's
// side of a cut: the protocol's "Agreed step" and "Node-local checkpoint" in window.h.
#include "comm/ps/client.h"

#include <algorithm>

#include "comm/ps/server.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::comm {

using W = PsLayout::Word;

int64_t ParameterServerClient::read_agreed() {
  int64_t agreed = 0;
  rma_.stall().wait_until(
      [&] {
        agreed = rma_.read(server(0), PsLayout::word(W::kAgreed), "reading the agreed step");
        return agreed != AgreedStep::kChoosing;
      },
      "worker " + std::to_string(worker_) + " waiting for the chief to choose a step",
      [&] { return "the chief, rank " + std::to_string(window_.roles().chief_rank()); });
  return agreed;
}

void ParameterServerClient::propose(int64_t done, int64_t kinds, bool last) {
  rma_.replace(server(0), PsLayout::word(W::kAgreed), AgreedStep::kChoosing,
               "announcing a step choice");
  const auto clocks = read_clocks();
  int64_t step = done;
  for (int w = 0; w < workers_; ++w) {
    if (w != worker_) step = std::max(step, clocks[static_cast<std::size_t>(w)] + 1);
  }
  // With work taken the chief's last step need not be the job's: the others may still hold
  // chunks, which the last checkpoint must hold too.
  if (last) step = total_steps_;
  step = std::min(step, total_steps_);
  rma_.replace(server(0), PsLayout::word(W::kAgreed), AgreedStep(step, kinds).word(),
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
  if (chief && agreed == AgreedStep::kNone) {
    const auto asked = rma_.read_words(server(0), PsLayout::word(W::kStopRequests), 2,
                                       "reading stop/checkpoint requests");
    int64_t kinds = 0;
    if (asked[0] > stops_handled_) kinds |= AgreedStep::kStop;
    if (asked[1] > checkpoints_handled_) kinds |= AgreedStep::kCheckpoint;
    // A node-local checkpoint too, at an agreed step: a cut (comm/ps/window.h), so that every
    // server keeps the same pushes (taken at the chief's own step, the shards once disagreed by a
    // push).
    if (requests & kLocalCheckpointRequest) kinds |= AgreedStep::kLocal;
    if (kinds != 0) {
      stops_handled_ = asked[0];
      checkpoints_handled_ = asked[1];
      propose(done, kinds, last);
      agreed = read_agreed();
    }
  }
  note_cut(agreed);
  int decision = kNoRequest;
  // Acting at S: after the last chunk of a step < S, before the first of a step >= S (the
  // clock, now the step of the next chunk; for an even share done itself).
  const auto at = AgreedStep::from_word(agreed);
  if (at && done <= at->step() && at->step() <= clock_) {
    if (at->cut_only()) {
      decision = kLocalCheckpointRequest;  // a cut: nobody waits (comm/ps/window.h)
    } else if (at->has(AgreedStep::kStop)) {
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
        last_clocks_ = read_clocks();
        return std::all_of(last_clocks_.begin(), last_clocks_.end(),
                           [&](int64_t c) { return c >= steps; });
      },
      "chief waiting for every worker to reach step " + std::to_string(steps),
      [&] { return "workers behind: ranks " + rank_list(ranks_behind(steps)); });
}

void ParameterServerClient::note_cut(int64_t agreed) {
  const auto at = AgreedStep::from_word(agreed);
  if (!at || !at->cut_only()) return;
  const int64_t step = at->step();
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
  rma_.replace(server(0), PsLayout::word(W::kAgreed), AgreedStep::kNone,
               "clearing the agreed step");
}

}  // namespace dtrain::comm
