#include "util/mpi_call.h"

#include "dtrain/util/error.h"

namespace dtrain {

std::mutex& mpi_mutex() {
  static std::mutex m;
  return m;
}

void check_mpi(int rc, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(what + " failed: " + std::string(msg, static_cast<std::size_t>(len)));
}

void return_errors(MPI_Win win) {
  mpi_call("MPI_Win_set_errhandler", MPI_Win_set_errhandler, win, MPI_ERRORS_RETURN);
}

}  // namespace dtrain
