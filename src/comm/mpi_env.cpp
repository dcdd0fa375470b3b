#include "dtrain/comm/mpi_env.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "dtrain/util/error.h"
#include "util/crash_report.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {

std::string g_osc_note;

int env_int(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : 0;
}

// How many nodes the launcher put this job on, from what it tells every process before
// MPI_Init: Open MPI's mpirun (local size against world size) or Slurm's srun.
int launcher_nodes() {
  const int world = env_int("OMPI_COMM_WORLD_SIZE"), local = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (world > 0 && local > 0) return local < world ? 2 : 1;
  return std::max(1, env_int("SLURM_STEP_NUM_NODES"));
}

// Open MPI picks its one-sided component per window, from those the MCA settings allow. With
// Debian's defaults (osc = ^ucx,pt2pt) only sm and rdma are left, and between nodes without an
// RDMA network neither can create a window: MPI_Win_allocate fails. So, unless the user chose,
// a job whose ranks span nodes gets osc pt2pt (over the PML), or osc ucx when the PML is UCX.
void choose_one_sided_component() {
  if (std::getenv("OMPI_MCA_osc") || launcher_nodes() < 2) return;
  const char* pml = std::getenv("OMPI_MCA_pml");
  const bool ucx = pml && std::string(pml) == "ucx";
  setenv("OMPI_MCA_osc", ucx ? "ucx" : "pt2pt", 1);
  g_osc_note = std::string("osc ") + (ucx ? "ucx" : "pt2pt") +
               " chosen by dtrain: the ranks span nodes, where the default one-sided "
               "components cannot make windows (give --mca osc to choose another)";
}

// UCX limited to shared memory cannot reach another node; without this check the job dies in
// MPI_Init with "Destination is unreachable".
void check_ucx_reaches_nodes() {
  const char* tls = std::getenv("UCX_TLS");
  if (!tls || launcher_nodes() < 2) return;
  const std::string t = tls;
  for (const char* net : {"tcp", "rc", "ud", "dc", "ib", "all"}) {
    if (t.find(net) != std::string::npos) return;
  }
  throw Error("UCX_TLS=" + t +
              " has no transport between hosts, and the ranks span several nodes: add tcp (or "
              "rc/ud/dc on InfiniBand), or use DTRAIN_TRANSPORT=ucx-tcp");
}

// coll/tuned reads its per-communicator algorithm variables only with dynamic rules on, which
// must be set before MPI_Init (sync/ring_comm.h). Without a rules file or a forced algorithm
// that is Open MPI's own fixed decision, so it changes nothing else.
void allow_chosen_collectives() {
  if (!std::getenv("OMPI_MCA_coll_tuned_use_dynamic_rules"))
    setenv("OMPI_MCA_coll_tuned_use_dynamic_rules", "1", 1);
}

}  // namespace

const std::string& one_sided_note() {
  return g_osc_note;
}

MpiEnv::MpiEnv(int* argc, char*** argv) {
  check_ucx_reaches_nodes();
  choose_one_sided_component();
  allow_chosen_collectives();
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
  mpi_call("MPI_Comm_split_type (node)", MPI_Comm_split_type, MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED,
           rank_, MPI_INFO_NULL, &local);
  mpi_call("MPI_Comm_size", MPI_Comm_size, local, &local_size_);
  mpi_call("MPI_Comm_free", MPI_Comm_free, &local);
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  host_ = name;
  install_crash_report(("rank " + std::to_string(rank_) + " on " + host_).c_str());
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
