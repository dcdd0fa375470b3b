#include <utility>

#include "comm/stall.h"
#include "train/runners.h"
#include "util/timeline.h"

namespace dtrain::train {

std::vector<std::string> WorkerRunner::worker_names() const {
  std::vector<std::string> names;
  for (int w = 0; w < ctx_.roles.num_workers(); ++w) {
    const auto r = static_cast<std::size_t>(ctx_.roles.worker_rank(w));
    names.push_back("rank " + std::to_string(r) +
                    (r < ctx_.hosts.size() ? " on " + ctx_.hosts[r] : std::string()));
  }
  return names;
}

int WorkerRunner::run() {
  timeline::name_this_thread("training");
  const bool chief = ctx_.roles.is_chief();
  const bool sync = ctx_.roles.mode == comm::Mode::kSync;
  nn::Replica replica(*ctx_.model, side_->parameter_storage(), ctx_.precision);
  const int64_t start = side_->start(replica);
  ChiefOutputs outputs(ctx_, chief);
  auto sum = sync ? comm::polled_sum(MPI_COMM_WORLD, ctx_.options.dist.stall,
                                     "the evaluation's sum over the workers")
                  : nullptr;
  if (sync && ctx_.roles.num_workers() > 1 && ctx_.options.dist.balance == Balance::kSpeed)
    ctx_.rows = std::make_shared<data::RowSchedule>();
  const bool replay = !ctx_.replay_splits.empty();
  TrainerSetup s{.options = &ctx_.options,
                 .replica = &replica,
                 .exchange = &side_->exchange(),
                 .train_data = ctx_.train,
                 .test_data = ctx_.test,
                 .mode = ctx_.roles.mode,
                 .worker = ctx_.roles.worker_index(),
                 .workers = ctx_.roles.num_workers(),
                 .sum_over_workers = std::move(sum),
                 .start_step = start,
                 .hooks = outputs.hooks(),
                 .worker_names = chief ? worker_names() : std::vector<std::string>{},
                 .rows = ctx_.rows,
                 .row_splits = replay         ? ctx_.replay_splits
                               : ctx_.resumed ? ctx_.resumed->row_splits
                                              : std::vector<RowSplit>{},
                 .replay_splits = replay};
  side_->install(s.hooks, replica);
  Trainer trainer(s);
  if (chief) print_header(ctx_, trainer.plan());
  TrainResult result = trainer.run();
  side_->finish(result);
  ctx_.finish_local(result.stopped);
  if (chief) side_->finish_chief(trainer, result, replica);
  const RunReport run_report = side_->report(result);
  if (chief) {
    report(ctx_, run_report);
    // A stopped job is being preempted: report and go, the resumed run exports.
    if (!result.stopped) export_model(ctx_, replica, result);
  }
  side_->close();
  return result.stopped ? 143 : 0;
}

}  // namespace dtrain::train
