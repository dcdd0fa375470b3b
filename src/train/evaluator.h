// Evaluation of a replica on a whole data set, batched, without dropout. The last batch is
// padded, so one compiled network serves every batch. With a communicator, the ranks split the
// set (each its own contiguous part) and the sums are reduced: data-parallel evaluation.
#pragma once

#include <mpi.h>

#include <cstdint>

#include "dtrain/comm/stall_settings.h"
#include "dtrain/data/example_source.h"
#include "dtrain/nn/replica.h"

namespace dtrain::train {

struct EvalResult {
  int64_t examples = 0;
  int64_t correct = 0;
  double loss_sum = 0;
  double seconds = 0;
  double accuracy() const { return examples ? static_cast<double>(correct) / examples : 0.0; }
  double loss() const { return examples ? loss_sum / examples : 0.0; }
};

// comm == MPI_COMM_NULL: this rank evaluates everything. Otherwise the sums are reduced with a
// polled MPI_Iallreduce that gives up after the stall timeout (the job is aborted, naming
// the wait), like every other wait on other ranks.
EvalResult evaluate(nn::Replica& replica, data::ExampleSource& source, int64_t batch,
                    MPI_Comm comm = MPI_COMM_NULL, const comm::StallSettings& stall = {});

}  // namespace dtrain::train
