// mnist_train: trains the MNIST CNN on oneDNN, in one process or over MPI ranks.
// Run `mnist_train --help` for the options; README.md for the modes.
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
    } catch (const OptionError& e) {
      // Every rank reaches the same verdict on the options: one message, exit 2 everywhere.
      if (mpi.rank() == 0) std::fprintf(stderr, "mnist_train: error: %s\n", e.what());
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mnist_train: [rank %d] error: %s\n", mpi.rank(), e.what());
      std::fflush(stderr);
      if (mpi.size() > 1) comm::abort_job(1);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_train: error: %s\n", e.what());
    return 1;
  }
}
