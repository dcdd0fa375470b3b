// Heartbeat: every rank records the step it has reached in a small RMA window on rank 0, so
// that a rank stuck in a collective can say which ranks never arrived.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dtrain::comm {

class Heartbeat {
 public:
  explicit Heartbeat(MPI_Comm comm);  // collective
  ~Heartbeat();                       // collective
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Records that this rank has reached `step` (cheap: one small put, flushed lazily).
  void beat(int64_t step);
  // The ranks whose last recorded step is below `step`, as text. Gives up after a few seconds
  // (rank 0 itself may be the one that is gone) and says so.
  std::string ranks_behind(int64_t step);

 private:
  MPI_Comm comm_;
  MPI_Win win_ = MPI_WIN_NULL;
  int64_t* slots_ = nullptr;
  int rank_ = 0, size_ = 1;
  int64_t value_ = 0;
  int unflushed_ = 0;
};

}  // namespace dtrain::comm
