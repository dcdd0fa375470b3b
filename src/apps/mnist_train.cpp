// mnist_train: trains the MNIST CNN on oneDNN, in one process or over MPI ranks.
// Run `mnist_train --help` for the options; docs/running.md for the modes.
//
// Exit codes: 0 done; 2 refused to start (bad options or data; every rank, one message); 143
// stopped on SIGTERM/SIGINT after a checkpoint; 1 an error during the run (the rank that hit it
// names itself and ends the whole job); 3 a stall (another rank stopped answering).
#include <cstdio>
#include <exception>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/train/job.h"
#include "dtrain/train/options.h"
#include "dtrain/util/error.h"

int main(int argc, char** argv) {
  using namespace dtrain;
  // Options are parsed before MPI starts so that --help and bad flags need no MPI launch;
  // every rank parses the same argv, so all reach the same verdict.
  train::TrainOptions options;
  std::string help;
  try {
    if (!train::parse_options(argc, argv, &options, &help)) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  } catch (const OptionError& e) {
    std::fprintf(stderr, "mnist_train: error: %s\n", e.what());
    return 2;
  }
  try {
    comm::MpiEnv mpi(&argc, &argv);
    try {
      return train::run_job(options, mpi);
    } catch (const StartupError& e) {
      if (mpi.rank() == 0) std::fprintf(stderr, "mnist_train: error: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mnist_train: [rank %d on %s] error: %s\n", mpi.rank(),
                   mpi.host().c_str(), e.what());
      std::fflush(stderr);
      if (mpi.size() > 1) comm::abort_job(1);
      return dynamic_cast<const OptionError*>(&e) ? 2 : 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_train: error: %s\n", e.what());
    return 1;
  }
}
