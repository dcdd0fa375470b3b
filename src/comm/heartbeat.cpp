#include "dtrain/comm/heartbeat.h"

#include <thread>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/stall.h"
#include "dtrain/util/clock.h"

namespace dtrain::comm {

Heartbeat::Heartbeat(MPI_Comm comm) : comm_(comm) {
  std::lock_guard lock(mpi_mutex());
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  const MPI_Aint bytes = rank_ == 0 ? static_cast<MPI_Aint>(size_) * 8 : 0;
  check_mpi(MPI_Win_allocate(bytes, 8, MPI_INFO_NULL, comm_, &slots_, &win_),
            "MPI_Win_allocate (heartbeat)");
  if (rank_ == 0) std::fill(slots_, slots_ + size_, -1);
  MPI_Barrier(comm_);
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
}

Heartbeat::~Heartbeat() {
  std::lock_guard lock(mpi_mutex());
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

void Heartbeat::beat(int64_t step) {
  std::lock_guard lock(mpi_mutex());
  value_ = step;
  MPI_Accumulate(&value_, 1, MPI_INT64_T, 0, rank_, 1, MPI_INT64_T, MPI_REPLACE, win_);
  // Complete the put now and then, not every step: the value only matters when a wait stalls.
  if (++unflushed_ >= 16) {
    MPI_Win_flush(0, win_);
    unflushed_ = 0;
  }
}

std::string Heartbeat::ranks_behind(int64_t step) {
  std::vector<int64_t> steps(static_cast<std::size_t>(size_), -1);
  MPI_Request req;
  {
    std::lock_guard lock(mpi_mutex());
    MPI_Win_flush(0, win_);
    MPI_Rget_accumulate(nullptr, 0, MPI_INT64_T, steps.data(), size_, MPI_INT64_T, 0, 0, size_,
                        MPI_INT64_T, MPI_NO_OP, win_, &req);
  }
  const double deadline = now_seconds() + 5;
  for (;;) {
    int done = 0;
    {
      std::lock_guard lock(mpi_mutex());
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    }
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
