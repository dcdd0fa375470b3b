// MpiEnv: MPI for the life of the program (init on construction, finalize on destruction).
//
// dtrain asks for MPI_THREAD_SERIALIZED: the data reader thread does parallel-HDF5 (MPI-IO)
// reads while the training thread talks to other ranks, so calls can come from two threads,
// but never at once: every MPI call in the library is made under mpi_mutex(). MULTIPLE is not
// asked for because Open MPI's osc/pt2pt (the RMA path over TCP) refuses it.
#pragma once

#include <mpi.h>

#include <mutex>
#include <string>

namespace dtrain::comm {

class MpiEnv {
 public:
  MpiEnv(int* argc, char*** argv);
  ~MpiEnv();
  MpiEnv(const MpiEnv&) = delete;
  MpiEnv& operator=(const MpiEnv&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks sharing this rank's node (MPI_COMM_TYPE_SHARED) and this rank's index among them.
  int local_size() const { return local_size_; }
  int local_rank() const { return local_rank_; }
  std::string host() const { return host_; }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string host_;
};

// The lock every MPI call is made under (see MpiEnv).
std::mutex& mpi_mutex();

// Throws dtrain::Error with the MPI error string when rc != MPI_SUCCESS.
void check_mpi(int rc, const char* what);

// Ends the whole job from any rank: prints nothing itself, calls MPI_Abort.
[[noreturn]] void abort_job(int code);

}  // namespace dtrain::comm
