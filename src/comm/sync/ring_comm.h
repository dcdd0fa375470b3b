// RingComm: a duplicate of a communicator on which Open MPI's MPI_Allreduce runs the ring
// algorithm, for the whole-optimizer exchange across more than 2 nodes, where Open MPI 4.1's
// fixed decision (recursive doubling and its relatives for these sizes) moved the 13 MB gradient
// in twice a ring's time.
//
// How: the coll/tuned component reads its control variable coll_tuned_allreduce_algorithm when
// a communicator is set up, and only when coll_tuned_use_dynamic_rules was set before MPI_Init
// (mpi_env.cpp sets it, unless the user did; with no rules file and algorithm 0 that is Open
// MPI's own fixed decision, so nothing else changes). The variable is written through the MPI
// tool interface (MPI_T), the communicator duplicated, and the variable written back to 0, so no
// other communicator inherits the ring.
#pragma once

#include <mpi.h>

#include <string>

namespace dtrain::comm {

class RingComm {
 public:
  // Collective over `comm`. When the MPI library has no such variable (another MPI, or coll/
  // tuned not in use), the duplicate runs the library's own choice and note() says so.
  explicit RingComm(MPI_Comm comm);
  ~RingComm();
  RingComm(const RingComm&) = delete;
  RingComm& operator=(const RingComm&) = delete;

  MPI_Comm comm() const { return comm_; }
  bool ring() const { return ring_; }
  const std::string& note() const { return note_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool ring_ = false;
  std::string note_;
};

// Open MPI's number of the ring allreduce in coll/tuned (coll_tuned_allreduce_algorithm).
inline constexpr int kOpenMpiRingAllreduce = 4;

}  // namespace dtrain::comm
