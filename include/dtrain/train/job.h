// The whole of an mnist_train run on this rank: check and set up the job with every other
// rank, take this rank's role, train, evaluate, report. main() only parses options and turns
// errors into exit codes.
#pragma once

#include "dtrain/comm/mpi_env.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

// Returns the process exit code (0, or 143 after a stop on SIGTERM/SIGINT). Throws
// StartupError, on every rank alike, when the job cannot start; any other exception is this
// rank's alone, and the caller must end the whole job (comm::abort_job).
int run_job(const TrainOptions& options, const comm::MpiEnv& mpi);

}  // namespace dtrain::train
