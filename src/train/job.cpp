#include "dtrain/train/job.h"

#include "dtrain/util/error.h"

#include "train/inference.h"
#include "train/runners.h"
#include "train/timeline_file.h"

namespace dtrain::train {

int run_job(const TrainOptions& o, const comm::MpiEnv& mpi) {
  // Options built in code, not parsed: the same rules, the same verdict on every rank.
  try {
    validate(o);
  } catch (const OptionError& e) {
    throw StartupError(e.what());
  }
  switch (o.mode) {
    case RunMode::kInference:
      return run_inference(o, mpi);
    case RunMode::kExport:
      return run_export(o, mpi);
    case RunMode::kTrain:
      break;
  }
  const auto ctx = prepare_job(o, mpi);
  const auto& timeline = o.output.timeline;
  if (!timeline.empty()) start_timeline(o.output.timeline_layers, ctx->watchdog.get());
  const auto& roles = ctx->roles;
  int code = 0;
  if (roles.is_ps()) {
    code = ServerRunner(*ctx).run();
  } else if (roles.mode == comm::Mode::kAsync) {
    code = WorkerRunner(*ctx, make_async_side(*ctx)).run();
  } else {
    code = WorkerRunner(*ctx, make_sync_side(*ctx)).run();
  }
  if (!timeline.empty()) {
    // A worker's label carries the precision it computes in (auto may differ by node).
    const std::string role =
        roles.is_ps() ? "ps"
                      : (roles.is_chief() ? "chief, " : "worker, ") + nn::to_string(ctx->precision);
    write_timeline(timeline, role, ctx->watchdog.get());
  }
  return code;
}

}  // namespace dtrain::train
