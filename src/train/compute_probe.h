// The compute half of the start-up measurement (exchange_plan.h): every rank at once, as they
// will train, times a step of the model on a synthetic batch (forward and backward, in the
// precision this rank computes in), the optimizer step on the whole model, and the fp16 encode
// and decode of the gradient; the slowest rank's times are the job's (sync waits for it). It
// also keeps the ranks computing on demand (load()), so that the link probe can measure
// collectives beside compute, as the exchange runs them.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "comm/exchange_model.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/nn/replica.h"
#include "dtrain/train/options.h"

namespace dtrain::train {

class ComputeProbe {
 public:
  // Collective over MPI_COMM_WORLD: rank 0's training images' shape is broadcast. rows: a
  // worker's batch. ready() is false on every rank when rank 0 could not open the data (the
  // start-up checks then say why).
  ComputeProbe(const TrainOptions& o, const comm::MpiEnv& mpi, int64_t rows);
  ~ComputeProbe();
  ComputeProbe(const ComputeProbe&) = delete;
  ComputeProbe& operator=(const ComputeProbe&) = delete;

  bool ready() const { return replica_ != nullptr; }
  // Collective: this rank's times, then the slowest rank's.
  comm::ComputeFacts measure();
  // A thread training the synthetic batch over and over, on or off.
  void load(bool on);

 private:
  void train_once();

  const TrainOptions& options_;
  int64_t rows_ = 0;
  std::unique_ptr<nn::Model> model_;
  std::unique_ptr<nn::Replica> replica_;
  std::vector<float> images_;
  std::vector<int32_t> labels_;
  std::vector<int64_t> ids_;
  std::atomic<bool> stop_{false};
  std::thread load_;
};

}  // namespace dtrain::train
