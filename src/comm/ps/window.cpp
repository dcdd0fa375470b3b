#include "comm/ps/window.h"

#include <cstring>
#include <exception>

#include "util/mpi_call.h"

namespace dtrain::comm {

PsWindow::PsWindow(MPI_Comm comm, const Roles& roles, std::vector<nn::ParamRange> shards)
    : roles_(roles), shards_(std::move(shards)) {
  for (const auto& s : shards_) layouts_.push_back(PsLayout{s.size(), roles.num_workers()});
  const MPI_Aint bytes =
      roles.is_ps() ? layouts_[static_cast<std::size_t>(roles.ps_index(roles.rank))].total_bytes()
                    : 0;
  mpi_call("MPI_Win_allocate (parameter server)", MPI_Win_allocate, bytes, 1, MPI_INFO_NULL, comm,
           &base_, &win_);
  return_errors(win_);
  if (bytes > 0) std::memset(base_, 0, static_cast<std::size_t>(bytes));
  int* model = nullptr;
  int flag = 0;
  mpi_call("MPI_Win_get_attr", MPI_Win_get_attr, win_, MPI_WIN_MODEL, &model, &flag);
  model_ = flag && model ? *model : MPI_WIN_SEPARATE;
  mpi_call("MPI_Win_lock_all", MPI_Win_lock_all, MPI_MODE_NOCHECK, win_);
  mpi_call("MPI_Win_sync", MPI_Win_sync, win_);
}

PsWindow::~PsWindow() {
  // Freeing is collective: a rank unwinding an error is about to abort the job, and must not
  // wait for ranks that are waiting for it.
  if (std::uncaught_exceptions() > 0) return;
  MpiLock lock(mpi_mutex());
  MPI_Win_unlock_all(win_);
  MPI_Win_free(&win_);
}

}  // namespace dtrain::comm
