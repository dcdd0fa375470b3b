#include "dtrain/comm/mpi_env.h"

#include <unistd.h>

#include <cstdlib>

#include "dtrain/util/error.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

MpiEnv::MpiEnv(int* argc, char*** argv) {
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw Error("the MPI library does not provide MPI_THREAD_SERIALIZED");
  }
  mpi_call("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler, MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  // MPI_FILE_NULL's handler is the default of every file opened later (HDF5's MPI-IO files).
  mpi_call("MPI_File_set_errhandler", MPI_File_set_errhandler, MPI_FILE_NULL, MPI_ERRORS_RETURN);
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, MPI_COMM_WORLD, &rank_);
  mpi_call("MPI_Comm_size", MPI_Comm_size, MPI_COMM_WORLD, &size_);
  MPI_Comm local = MPI_COMM_NULL;
  mpi_call("MPI_Comm_split_type (node)", MPI_Comm_split_type, MPI_COMM_WORLD,
           MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  mpi_call("MPI_Comm_size", MPI_Comm_size, local, &local_size_);
  mpi_call("MPI_Comm_free", MPI_Comm_free, &local);
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  host_ = name;
}

MpiEnv::~MpiEnv() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace dtrain::comm
