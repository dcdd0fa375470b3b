// Inference and export modes of mnist_train.
//
// Inference is data-parallel over all ranks: each rank reads its own part of --test-data (its
// files, or a record range), runs the model loaded from --model (an exported model or a
// checkpoint) and writes its predictions to <output>/part-<rank> as JSON lines or CSV, with the
// fields --output-mapping asks for: id, label, prediction, probabilities, features (the
// activations of the last hidden dense layer). Rank 0 prints the accuracy when labels exist.
#pragma once

#include "dtrain/comm/mpi_env.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

int run_inference(const TrainOptions& options, const comm::MpiEnv& mpi);
// --mode export: a checkpoint (--model) into a self-contained model file (--export).
int run_export(const TrainOptions& options, const comm::MpiEnv& mpi);

}  // namespace dtrain::train
