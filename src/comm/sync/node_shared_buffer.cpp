#include "comm/sync/node_shared_buffer.h"

#include <cstdint>
#include <exception>

#include "comm/consensus.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {

constexpr std::size_t kAlignBytes = 64;

bool all_on_one_node(MPI_Comm comm, int size) {
  const int here = count_on_node(true, comm);
  int fewest = 0;
  mpi_call("MPI_Allreduce (one node?)", MPI_Allreduce, &here, &fewest, 1, MPI_INT, MPI_MIN, comm);
  return fewest == size;
}

}  // namespace

std::unique_ptr<NodeSharedBuffer> NodeSharedBuffer::create(MPI_Comm comm, std::size_t floats,
                                                           std::string* why_not) {
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  if (!all_on_one_node(comm, size)) {
    *why_not = "the ranks span more than one node";
    return nullptr;
  }
  // Rank 0 allocates it all (contiguous), with room to align; the others map rank 0's part.
  const auto bytes = static_cast<MPI_Aint>(rank == 0 ? floats * sizeof(float) + kAlignBytes : 0);
  void* mine = nullptr;
  MPI_Win win = MPI_WIN_NULL;
  int rc;
  {
    MpiLock lock(mpi_mutex());
    rc = MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, comm, &mine, &win);
  }
  // Every rank takes the same MCA choices, so a failure is everyone's: agree anyway, since a
  // window that exists on some ranks only could not be freed.
  int ok = rc == MPI_SUCCESS ? 1 : 0, all_ok = 0;
  mpi_call("MPI_Allreduce (shared window made?)", MPI_Allreduce, &ok, &all_ok, 1, MPI_INT, MPI_MIN,
           comm);
  if (!all_ok) {
    if (ok) {
      MpiLock lock(mpi_mutex());
      MPI_Win_free(&win);
    }
    *why_not = "this MPI's one-sided component makes no shared-memory windows (--mca osc)";
    return nullptr;
  }
  return_errors(win);
  MPI_Aint got = 0;
  int unit = 0;
  void* base = nullptr;
  mpi_call("MPI_Win_shared_query", MPI_Win_shared_query, win, 0, &got, &unit, &base);
  // Mappings start on page boundaries, so aligning in each process lands on the same byte.
  const auto addr = reinterpret_cast<std::uintptr_t>(base);
  auto* data = reinterpret_cast<float*>((addr + kAlignBytes - 1) / kAlignBytes * kAlignBytes);
  mpi_call("MPI_Win_lock_all (shared parameters)", MPI_Win_lock_all, MPI_MODE_NOCHECK, win);
  return std::unique_ptr<NodeSharedBuffer>(new NodeSharedBuffer(comm, win, data, rank));
}

NodeSharedBuffer::~NodeSharedBuffer() {
  // Freeing is collective: a rank unwinding an error is about to abort the job, and must not
  // wait for ranks that are waiting for it.
  if (std::uncaught_exceptions() > 0) return;
  MpiLock lock(mpi_mutex());
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

void NodeSharedBuffer::fence(const StallPolicy& stall, const std::string& what,
                             const MissingFn& missing) const {
  mpi_call("MPI_Win_sync (shared parameters)", MPI_Win_sync, win_);
  MPI_Request done = MPI_REQUEST_NULL;
  mpi_call("MPI_Ibarrier (shared parameters)", MPI_Ibarrier, comm_, &done);
  stall.wait(done, what, missing);
  mpi_call("MPI_Win_sync (shared parameters)", MPI_Win_sync, win_);
}

}  // namespace dtrain::comm
