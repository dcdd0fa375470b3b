#include "dtrain/train/job.h"

#include "train/inference.h"
#include "train/runners.h"

namespace dtrain::train {

int run_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  switch (o.mode) {
    case RunMode::kInference:
      return run_inference(o, mpi);
    case RunMode::kExport:
      return run_export(o, mpi);
    case RunMode::kTrain:
      break;
  }
  const auto ctx = prepare_job(o, mpi);
  if (ctx->roles.is_ps()) return ServerRunner(*ctx).run();
  if (ctx->roles.mode == comm::Mode::kAsync) return AsyncWorker(*ctx).run();
  return SyncRunner(*ctx).run();
}

}  // namespace dtrain::train
