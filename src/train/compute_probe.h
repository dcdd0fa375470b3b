// The compute half of the start-up measurement (exchange_plan.h): every rank at once, as they
// will train, times a step of the model on a synthetic batch (forward and backward, in the
// precision this rank computes in), the optimizer step on the whole model, and the fp16 encode
// and decode of the gradient; the slowest rank's times are the job's (sync waits for it).
#pragma once

#include <optional>

#include "comm/exchange_model.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

// Collective over MPI_COMM_WORLD. rows: a worker's batch. nullopt on every rank when rank 0
// could not open the training data for its image shape (the start-up checks then say why).
std::optional<comm::ComputeFacts> measure_compute(const TrainOptions& o, const comm::MpiEnv& mpi,
                                                  int64_t rows);

}  // namespace dtrain::train
