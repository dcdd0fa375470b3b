#include "comm/stall.h"

#include <cstdio>
#include <thread>

#include "dtrain/comm/mpi_env.h"
#include "util/clock.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

void Backoff::pause() {
  ++polls_;
  if (polls_ < 2000) return;  // spin: the next MPI call may be the one that completes it
  const long us = polls_ < 4000 ? 20 : 100;
  std::this_thread::sleep_for(std::chrono::microseconds(us));
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s.empty() ? "none identified" : s;
}

void StallPolicy::abort(const std::string& what, const MissingFn& missing, double waited) const {
  std::string who;
  try {
    who = missing ? missing() : "";
  } catch (const std::exception& e) {
    who = std::string("(could not tell: ") + e.what() + ")";
  }
  std::fprintf(
      stderr,
      "dtrain: [rank %d] stalled: %s made no progress for %.0f s (--stall-timeout %.0f)%s%s; "
      "aborting the job\n",
      rank_, what.c_str(), waited, timeout_, who.empty() ? "" : "; missing: ", who.c_str());
  std::fflush(stderr);
  abort_job(3);
}

void StallPolicy::wait(std::span<MPI_Request> requests, const std::string& what,
                       const MissingFn& missing) const {
  const double start = now_seconds();
  Backoff backoff;
  for (;;) {
    int done = 0;
    mpi_call(what, MPI_Testall, static_cast<int>(requests.size()), requests.data(), &done,
             MPI_STATUSES_IGNORE);
    if (done) return;
    const double waited = now_seconds() - start;
    if (waited > timeout_) abort(what, missing, waited);
    backoff.pause();
  }
}

void StallPolicy::wait_until(const std::function<bool()>& done, const std::string& what,
                             const MissingFn& missing) const {
  const double start = now_seconds();
  Backoff backoff;
  while (!done()) {
    const double waited = now_seconds() - start;
    if (waited > timeout_) abort(what, missing, waited);
    backoff.pause();
  }
}

std::function<void(std::span<double>)> polled_sum(MPI_Comm comm, const StallSettings& settings,
                                                  std::string what) {
  int rank = 0;
  mpi_call("MPI_Comm_rank (a polled sum)", MPI_Comm_rank, comm, &rank);
  return [comm, policy = StallPolicy(settings, rank), what = std::move(what)](std::span<double> v) {
    MPI_Request req = MPI_REQUEST_NULL;
    mpi_call("MPI_Iallreduce (" + what + ")", MPI_Iallreduce, MPI_IN_PLACE, v.data(),
             static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm, &req);
    policy.wait(req, what, [] { return std::string("a rank that has not joined"); });
  };
}

}  // namespace dtrain::comm
