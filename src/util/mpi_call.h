// The one path every MPI call in dtrain takes.
//
// dtrain asks for MPI_THREAD_SERIALIZED: the data reader thread (MPI-IO under parallel HDF5),
// the allreduce communication thread and the training thread can all call MPI, but never at
// once. mpi_call() takes the lock they share, makes the call, and turns a failure into an Error
// that names the call. Windows and files get MPI_ERRORS_RETURN (set_error_handlers), so that
// failures come back here instead of aborting inside MPI. HDF5 calls MPI internally: code that
// calls HDF5 holds MpiLock for the duration.
#pragma once

#include <mpi.h>

#include <mutex>
#include <string>
#include <utility>

namespace dtrain {

// The lock every MPI call (and every HDF5 call) is made under.
std::mutex& mpi_mutex();
using MpiLock = std::lock_guard<std::mutex>;

// Throws dtrain::Error "<what> failed: <MPI's error string>" unless rc is MPI_SUCCESS. For the
// few places that already hold the lock.
void check_mpi(int rc, const std::string& what);

// mpi_call("MPI_Win_flush (pushing gradients)", MPI_Win_flush, target, win): locked, checked.
template <typename Fn, typename... Args>
void mpi_call(const std::string& what, Fn fn, Args&&... args) {
  int rc;
  {
    MpiLock lock(mpi_mutex());
    rc = fn(std::forward<Args>(args)...);
  }
  if (rc != MPI_SUCCESS) check_mpi(rc, what);
}

// MPI_ERRORS_RETURN on a window (windows start with MPI_ERRORS_ARE_FATAL).
void return_errors(MPI_Win win);

}  // namespace dtrain
