#include "comm/heartbeat.h"

#include <exception>
#include <thread>

#include "comm/stall.h"
#include "util/clock.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

Heartbeat::Heartbeat(MPI_Comm comm) : comm_(comm) {
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm_, &rank_);
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm_, &size_);
  const MPI_Aint bytes = rank_ == 0 ? static_cast<MPI_Aint>(size_) * 8 : 0;
  mpi_call("MPI_Win_allocate (heartbeat)", MPI_Win_allocate, bytes, 8, MPI_INFO_NULL, comm_,
           &slots_, &win_);
  return_errors(win_);
  if (rank_ == 0) std::fill(slots_, slots_ + size_, -1);
  mpi_call("MPI_Barrier (heartbeat)", MPI_Barrier, comm_);
  mpi_call("MPI_Win_lock_all (heartbeat)", MPI_Win_lock_all, MPI_MODE_NOCHECK, win_);
}

Heartbeat::~Heartbeat() {
  // Freeing is collective: a rank unwinding an error is about to abort the job, and must not
  // wait for ranks that are waiting for it.
  if (std::uncaught_exceptions() > 0) return;
  MpiLock lock(mpi_mutex());
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

void Heartbeat::beat(int64_t step) {
  value_ = step;
  mpi_call("MPI_Accumulate (heartbeat)", MPI_Accumulate, &value_, 1, MPI_INT64_T, 0, rank_, 1,
           MPI_INT64_T, MPI_REPLACE, win_);
  // Complete the put now and then, not every step: the value only matters when a wait stalls.
  if (++unflushed_ >= 16) {
    mpi_call("MPI_Win_flush (heartbeat)", MPI_Win_flush, 0, win_);
    unflushed_ = 0;
  }
}

std::string Heartbeat::ranks_behind(int64_t step) {
  std::vector<int64_t> steps(static_cast<std::size_t>(size_), -1);
  MPI_Request req = MPI_REQUEST_NULL;
  mpi_call("MPI_Win_flush (heartbeat)", MPI_Win_flush, 0, win_);
  mpi_call("MPI_Rget_accumulate (heartbeat)", MPI_Rget_accumulate, nullptr, 0, MPI_INT64_T,
           steps.data(), size_, MPI_INT64_T, 0, 0, size_, MPI_INT64_T, MPI_NO_OP, win_, &req);
  const double deadline = now_seconds() + 5;
  for (;;) {
    int done = 0;
    mpi_call("MPI_Test (heartbeat)", MPI_Test, &req, &done, MPI_STATUS_IGNORE);
    if (done) break;
    if (now_seconds() > deadline)
      return "unknown (rank 0, which keeps the heartbeats, does not answer)";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::vector<int> behind;
  for (int r = 0; r < size_; ++r) {
    if (steps[static_cast<std::size_t>(r)] < step) behind.push_back(r);
  }
  return "ranks not at step " + std::to_string(step) + ": " + rank_list(behind);
}

}  // namespace dtrain::comm
