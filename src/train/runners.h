// The two roles a rank can take. Each reads top to bottom: set up the exchange, restore, train
// (data, step, exchange, log, checkpoint inside the Trainer), report.
//  - WorkerRunner: a worker, with the side of the exchange its mode takes (a WorkerSide):
//      sync_side.cpp: one process alone, or every rank a worker with an allreduce (sync);
//      async_side.cpp: pulling from and pushing to the parameter servers (async).
//  - ServerRunner: a parameter server (async), ParameterServer::serve() for the whole job.
// run() returns the process exit code: 0, or 143 after an agreed stop on SIGTERM/SIGINT.
#pragma once

#include <memory>
#include <vector>

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/nn/replica.h"
#include "dtrain/train/trainer.h"
#include "train/job_context.h"
#include "train/job_report.h"

namespace dtrain::train {

// What one exchange brings to a worker's run. The WorkerRunner calls these in this order, on
// every worker.
class WorkerSide {
 public:
  virtual ~WorkerSide() = default;
  // Where the replica keeps its parameters (nullptr: in a buffer of its own).
  virtual float* parameter_storage() { return nullptr; }
  // Creates the exchange, restores the state the replica starts from, prints the roles (and
  // the chief's notes); returns the step training continues from.
  virtual int64_t start(nn::Replica& replica) = 0;
  virtual comm::GradientExchange& exchange() = 0;
  // The checkpoint, node-local level and summary hooks this exchange needs.
  virtual void install(TrainerHooks& hooks, nn::Replica& replica) = 0;
  // After the last step, before the node-local level ends.
  virtual void finish(const TrainResult& result) = 0;
  // The chief, after finish(): the final weights into the replica, and their evaluation.
  virtual void finish_chief(Trainer& /*trainer*/, TrainResult& /*result*/,
                            nn::Replica& /*replica*/) {}
  // What the chief reports of this exchange (every rank calls it: sync gathers memory).
  virtual RunReport report(const TrainResult& result) = 0;
  // Frees the exchange's MPI objects (collective), watched.
  virtual void close() = 0;
};

std::unique_ptr<WorkerSide> make_sync_side(JobContext& ctx);  // also one process alone
std::unique_ptr<WorkerSide> make_async_side(JobContext& ctx);

class WorkerRunner {
 public:
  WorkerRunner(JobContext& ctx, std::unique_ptr<WorkerSide> side)
      : ctx_(ctx), side_(std::move(side)) {}
  int run();

 private:
  // The chief: "rank R on HOST" of each worker, for the lines that name one.
  std::vector<std::string> worker_names() const;

  JobContext& ctx_;
  std::unique_ptr<WorkerSide> side_;
};

// The background writing a node-local checkpoint costs on average (--local-checkpoint-steps
// auto measures it once, waiting for the first checkpoint's writes).
inline double local_write_seconds(LocalLevel& local) {
  return local.settle();
}

class ServerRunner {
 public:
  explicit ServerRunner(JobContext& ctx) : ctx_(ctx) {}
  int run();

 private:
  JobContext& ctx_;
};

}  // namespace dtrain::train
