// The three roles a rank can take, one runner each. Each reads top to bottom: set up the
// exchange, restore, train (data, step, exchange, log, checkpoint inside the Trainer), report.
//  - SyncRunner: one process alone, or every rank a worker with an allreduce (sync).
//  - AsyncWorker: a worker pulling from and pushing to the parameter servers (async).
//  - ServerRunner: a parameter server (async), ParameterServer::serve() for the whole job.
// run() returns the process exit code: 0, or 143 after an agreed stop on SIGTERM/SIGINT.
#pragma once

#include <memory>
#include <string>

#include "comm/node_shared_buffer.h"
#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/nn/replica.h"
#include "train/job_context.h"

namespace dtrain::train {

class SyncRunner {
 public:
  explicit SyncRunner(JobContext& ctx) : ctx_(ctx) {}
  int run();

 private:
  // The replica starts from the initial weights, or from the checkpoint with its optimizer.
  // With a node's shared copy of the parameters, its writer fills it and the others wait at
  // its fence.
  void restore(nn::Replica& replica, comm::GradientExchange& exchange,
               const comm::NodeSharedBuffer* shared) const;
  // The node's shared parameters when sync mode can use them, else nullptr; `note` says which
  // and why, for the chief to print.
  std::unique_ptr<comm::NodeSharedBuffer> shared_params(std::size_t floats,
                                                        std::string* note) const;
  // This rank's parts of a node-local checkpoint: the node's first rank the parameters with the
  // step's facts; each rank the optimizer state it alone keeps.
  std::vector<LocalLevel::Part> local_parts(int64_t done, double epoch, const nn::Replica& replica,
                                            comm::GradientExchange& exchange) const;
  JobContext& ctx_;
};

// The background writing a node-local checkpoint costs on average (--local-checkpoint-steps
// auto measures it once, waiting for the first checkpoint's writes).
inline double local_write_seconds(LocalLevel& local) {
  return local.settle();
}

class AsyncWorker {
 public:
  explicit AsyncWorker(JobContext& ctx) : ctx_(ctx) {}
  int run();

 private:
  int64_t start_step() const;
  JobContext& ctx_;
};

class ServerRunner {
 public:
  explicit ServerRunner(JobContext& ctx) : ctx_(ctx) {}
  int run();

 private:
  JobContext& ctx_;
};

}  // namespace dtrain::train
