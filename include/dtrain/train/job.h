// The whole of an mnist_train run on this rank: pick the role, build the model and data,
// train, evaluate, report. main() only parses options and catches errors.
#pragma once

#include <memory>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/example_source.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

// Returns the process exit code. Throws on errors (main turns them into one line and an abort).
int run_job(const TrainOptions& options, const comm::MpiEnv& mpi);

// The data set named by `paths` (--train-data / --test-data forms) with the data options of
// `o`; the IDX files in --data-dir with the given prefix ("train", "t10k") when paths is empty.
std::shared_ptr<data::ExampleSource> open_data(const TrainOptions& o, const std::string& paths,
                                               const char* idx_prefix,
                                               MPI_Comm comm = MPI_COMM_SELF,
                                               bool collective = false,
                                               bool labels_optional = false);

// Threads for compute on this rank: --threads, or the cores this process may run on divided
// among the node's ranks (at least 1).
int compute_threads(int requested, int local_ranks);

}  // namespace dtrain::train
