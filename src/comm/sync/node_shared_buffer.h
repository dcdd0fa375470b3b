// NodeSharedBuffer: one float array that all ranks of a node map, in an MPI-3 shared-memory
// window (MPI_Win_allocate_shared), for sync mode's parameters.
//
// Why: with the sharded optimizer every rank updates its pieces of the parameters, and an
// allgather then copies each piece into every other rank's replica. When all ranks share one
// node they can share one copy instead: each rank's optimizer writes its pieces in place, a
// barrier makes the writes visible, and there is nothing to gather. On 2 ranks of 2 cores the
// barrier took 0.1-0.7 ms where the allgather took 1.4-2.3 ms of a 35 ms step, but images/s
// did not clearly follow (README), so --shared-params asks for it. Across nodes the allgather
// stays (AllreduceExchange).
#pragma once

#include <mpi.h>

#include <cstddef>
#include <memory>
#include <string>

#include "comm/stall.h"

namespace dtrain::comm {

class NodeSharedBuffer {
 public:
  // Collective over comm. nullptr (with the reason in why_not) when comm spans more than one
  // node or the MPI library cannot make a shared window there (an osc component without
  // shared windows, such as osc ucx or pt2pt, chosen by --mca osc).
  static std::unique_ptr<NodeSharedBuffer> create(MPI_Comm comm, std::size_t floats,
                                                  std::string* why_not);
  ~NodeSharedBuffer();  // collective
  NodeSharedBuffer(const NodeSharedBuffer&) = delete;
  NodeSharedBuffer& operator=(const NodeSharedBuffer&) = delete;

  float* data() const { return data_; }  // 64-byte aligned, room for the floats asked for
  // Rank 0 of comm: the one that writes the initial or restored values.
  bool writer() const { return rank_ == 0; }
  // Makes every rank's stores visible to every rank (window sync, a barrier polled against
  // the stall timeout, window sync): after it, all ranks read the same values.
  void fence(const StallPolicy& stall, const std::string& what, const MissingFn& missing) const;

 private:
  NodeSharedBuffer(MPI_Comm comm, MPI_Win win, float* data, int rank)
      : comm_(comm), win_(win), data_(data), rank_(rank) {}

  MPI_Comm comm_;
  MPI_Win win_;
  float* data_;
  int rank_;
};

}  // namespace dtrain::comm
