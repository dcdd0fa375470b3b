// MpiEnv: MPI for the life of the program (init on construction, finalize on destruction).
//
// dtrain asks for MPI_THREAD_SERIALIZED (see src/util/mpi_call.h for why and how calls are
// serialised). MULTIPLE is not asked for because Open MPI's osc/pt2pt, the one-sided path over
// TCP, refuses it. Errors on the world communicator, on windows and on files come back as codes
// and become exceptions with context instead of aborting inside MPI.
#pragma once

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
  // Ranks sharing this rank's node (MPI_COMM_TYPE_SHARED).
  int local_size() const { return local_size_; }
  std::string host() const { return host_; }

 private:
  int rank_ = 0, size_ = 1, local_size_ = 1;
  std::string host_;
};

// When dtrain chose the one-sided (osc) component for this job (ranks on several nodes and no
// choice made by the user), what it chose and why; empty otherwise.
const std::string& one_sided_note();

// Ends the whole job from any rank with `code`: MPI_Abort, which mpirun and srun turn into the
// end of every rank. Prints nothing itself.
[[noreturn]] void abort_job(int code);

}  // namespace dtrain::comm
