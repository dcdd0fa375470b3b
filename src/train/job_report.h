// What a training job shows and leaves behind, common to every runner: the role table at
// start-up, the chief's header, its summary files (TensorBoard, CSV), the final report and
// metrics JSON, and the exported model.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "comm/ps/window.h"
#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/nn/replica.h"
#include "dtrain/train/trainer.h"
#include "train/job_context.h"
#include "train/summary_writer.h"

namespace dtrain::train {

// Rank 0 prints rank -> role -> host -> threads (and each server's range) and the transport.
// Collective.
void print_roles(JobContext& ctx, const std::vector<nn::ParamRange>& shards);

// The chief's description of the run: model, parameters, data, steps.
void print_header(const JobContext& ctx, const TrainingPlan& plan);

// The chief's TensorBoard writer and metrics CSV (none on other ranks), as trainer hooks.
class ChiefOutputs {
 public:
  ChiefOutputs(const JobContext& ctx, bool chief);
  TrainerHooks hooks() const;

 private:
  std::unique_ptr<SummaryWriter> summaries_;
  std::unique_ptr<MetricsCsv> csv_;
};

// What the chief reports at the end.
struct RunReport {
  const TrainResult* result = nullptr;
  comm::ExchangeStats exchange;
  std::optional<comm::WorkerRecord> all_workers;  // async: every worker's totals
  // Peak resident memory (MB) by rank of `comm` where the ranks gathered it (sync), else the
  // chief's alone.
  std::vector<double> peak_rss_mb;
};

// This process's peak resident set size in MB (getrusage).
double peak_rss_mb();
// Every rank's peak_rss_mb() on rank 0 of comm (a collective; empty on the other ranks).
std::vector<double> gather_peak_rss(MPI_Comm comm);

// Prints the final lines and writes --metrics-json.
void report(const JobContext& ctx, const RunReport& r);

// --export: the trained model as an HDF5 model file.
void export_model(const JobContext& ctx, const nn::Replica& replica, const TrainResult& r);

optim::OptimizerConfig optimizer_config(const TrainOptions& o);

}  // namespace dtrain::train
