#include "comm/sync/ring_comm.h"

#include <cstring>

#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {

// The MPI_T session the variable is written in: begun and ended here (MPI_T counts them).
class ToolSession {
 public:
  ToolSession() {
    int provided = 0;
    ok_ = MPI_T_init_thread(MPI_THREAD_SERIALIZED, &provided) == MPI_SUCCESS;
  }
  ~ToolSession() {
    if (ok_) MPI_T_finalize();
  }
  ToolSession(const ToolSession&) = delete;
  ToolSession& operator=(const ToolSession&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

int find_cvar(const char* wanted) {
  int count = 0;
  if (MPI_T_cvar_get_num(&count) != MPI_SUCCESS) return -1;
  for (int i = 0; i < count; ++i) {
    char name[256];
    int name_len = sizeof name, verbosity = 0, bind = 0, scope = 0;
    MPI_Datatype type;
    MPI_T_enum values;
    if (MPI_T_cvar_get_info(i, name, &name_len, &verbosity, &type, &values, nullptr, nullptr, &bind,
                            &scope) == MPI_SUCCESS &&
        std::strcmp(name, wanted) == 0 && type == MPI_INT)
      return i;
  }
  return -1;
}

// Writes `value` to the variable at `index`; false when MPI_T refuses.
bool write_cvar(int index, int value) {
  MPI_T_cvar_handle handle;
  int count = 0;
  if (MPI_T_cvar_handle_alloc(index, nullptr, &handle, &count) != MPI_SUCCESS) return false;
  const bool ok = MPI_T_cvar_write(handle, &value) == MPI_SUCCESS;
  MPI_T_cvar_handle_free(&handle);
  return ok;
}

}  // namespace

RingComm::RingComm(MPI_Comm comm) {
  MpiLock lock(mpi_mutex());
  ToolSession session;
  const int index = session.ok() ? find_cvar("coll_tuned_allreduce_algorithm") : -1;
  ring_ = index >= 0 && write_cvar(index, kOpenMpiRingAllreduce);
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup (the ring allreduce's communicator)");
  if (ring_) write_cvar(index, 0);
  if (!ring_)
    note_ =
        "the MPI library has no writable coll_tuned_allreduce_algorithm: its own allreduce runs";
}

RingComm::~RingComm() {
  if (comm_ == MPI_COMM_NULL) return;
  MpiLock lock(mpi_mutex());
  MPI_Comm_free(&comm_);
}

}  // namespace dtrain::comm
