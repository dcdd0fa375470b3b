#include "train/job_report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "comm/transport.h"
#include "dtrain/train/model_file.h"
#include "util/clock.h"
#include "util/mpi_call.h"
#include "util/version.h"

namespace dtrain::train {

namespace {

constexpr int kHostChars = 64;

std::string shard_text(const nn::ParamRange& s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "[%zu, %zu) = %zu floats (%.2f MB)", s.begin, s.end, s.size(),
                static_cast<double>(s.size()) * 4 / 1e6);
  return buf;
}

nlohmann::json exchange_json(const comm::ExchangeStats& e) {
  nlohmann::json j = {{"comm_wait_seconds_per_step", e.comm_wait_seconds_per_step},
                      {"optimizer_seconds_per_step", e.optimizer_seconds_per_step}};
  if (const auto& a = e.allreduce) {
    j.update({{"sharded_optimizer", a->sharded_optimizer},
              {"gradient_compression", comm::to_string(a->compression)},
              {"allgather_seconds_per_step", a->gather_seconds_per_step},
              {"params_shared_on_node", a->params_shared},
              {"optimizer_state_bytes", a->optimizer_state_bytes},
              {"buckets", a->buckets},
              {"allreduce_bytes_per_step", a->bytes_per_step},
              {"allreduce_seconds_per_step", a->reduce_seconds_per_step},
              {"allreduce_span_seconds_per_step", a->span_seconds_per_step},
              {"allreduce_gbps", a->gbps},
              {"buckets_done_before_backward_ended", a->buckets_done_before_backward_ended}});
  }
  if (const auto& p = e.push_pull) {
    j.update({{"pull_seconds_per_step", p->pull_seconds_per_step},
              {"push_seconds_per_step", p->push_seconds_per_step},
              {"pull_gbps", p->pull_gbps},
              {"push_gbps", p->push_gbps},
              {"bytes_per_step", p->bytes_per_step},
              {"staleness_wait_seconds", p->staleness_wait_seconds},
              {"staleness_mean", p->staleness_mean},
              {"staleness_max", p->staleness_max}});
  }
  return j;
}

nlohmann::json workers_json(const comm::WorkerRecord& w) {
  const double n = std::max(1.0, w.staleness_count);
  return {{"workers_images", w.images},
          {"workers_images_per_sec", w.train_seconds > 0 ? w.images / w.train_seconds : 0.0},
          {"staleness_mean", w.staleness_sum / n},
          {"staleness_max", w.staleness_max},
          {"pull_retries", w.pull_retries},
          {"staleness_wait_seconds", w.staleness_wait_seconds}};
}

double images_per_sec(const RunReport& r) {
  if (r.all_workers && r.all_workers->train_seconds > 0)
    return r.all_workers->images / r.all_workers->train_seconds;
  return r.result->metrics.steady_images_per_sec();
}

// What the node-local level cost this rank: in the training loop (the save; async, also the
// pause while the servers keep their shards), waiting for partner copies (sync), and in the
// background (writing), each also as a share of the training time; and what the checkpoints
// added to the chief's iterations around them (the auto interval's measure, local_cost.h).
nlohmann::json local_json(const LocalLevel& local, const TrainResult& t) {
  const auto st = local.stats();
  const double train = std::max(1e-9, t.metrics.train_seconds());
  return {{"taken", st.saves},
          {"loop_seconds", t.local_checkpoint_seconds},
          {"copy_wait_seconds", st.copy_wait_seconds},
          {"write_seconds", st.write_seconds},
          {"bytes_per_checkpoint", st.saves > 0 ? st.bytes_saved / st.saves : 0.0},
          {"copies_skipped", st.copies_skipped},
          {"share_of_training", (t.local_checkpoint_seconds + st.copy_wait_seconds) / train},
          {"background_share_of_training", st.write_seconds / train},
          {"measured", t.local_checkpoints_measured},
          {"added_seconds_per_checkpoint", t.local_checkpoint_added_seconds},
          {"added_share_of_training", t.local_checkpoint_added_seconds * st.saves / train}};
}

// What --version says, for a result to name the build that made it.
nlohmann::json build_json() {
  nlohmann::json j{{"dtrain", dtrain_version()}, {"commit", dtrain_commit()}};
  for (const auto& [name, version] : library_versions()) j[name] = version;
  j["loops"] = own_loops();
  return j;
}

// More than one worker: each worker's compute time per row, and the stragglers named.
nlohmann::json stragglers_json(const JobContext& ctx, const TrainResult& t) {
  nlohmann::json named = nlohmann::json::array();
  for (const StragglerReport& s : t.stragglers) {
    const auto rank = static_cast<std::size_t>(ctx.roles.worker_rank(s.worker));
    named.push_back({{"rank", rank},
                     {"worker", s.worker},
                     {"host", rank < ctx.hosts.size() ? ctx.hosts[rank] : ""},
                     {"ratio", s.ratio},
                     {"step", s.step}});
  }
  nlohmann::json j{{"compute_ms_per_row_per_worker", t.compute_ms_per_row}, {"stragglers", named}};
  if (!t.rows_per_worker.empty()) {
    j["balance"] = {{"rows_per_worker", t.rows_per_worker}, {"split_changes", t.split_changes}};
  }
  return j;
}

// A worker's step as this run measured it: the global batch (sync), or a worker's batch with
// every worker stepping at once (async).
double measured_step(const JobContext& ctx, double rate) {
  if (rate <= 0) return 0;
  const double batch = static_cast<double>(ctx.options.training.batch_size);
  return ctx.roles.mode == comm::Mode::kAsync ? batch * ctx.roles.num_workers() / rate
                                              : batch / rate;
}

// The exchange's choice, what was measured to make it and the prediction against the run.
nlohmann::json plan_json(const JobContext& ctx, double rate) {
  const ExchangePlan& p = ctx.exchange;
  nlohmann::json j{{"choice", p.choice.name()},
                   {"flags", p.choice.flags()},
                   {"source", p.source},
                   {"measured", p.link.measured},
                   {"default", p.fallback.name()}};
  if (!p.link.measured) return j;
  nlohmann::json alternatives = nlohmann::json::array();
  for (const auto& a : p.alternatives) {
    alternatives.push_back({{"choice", a.choice.name()},
                            {"flags", a.choice.flags()},
                            {"predicted_step_ms", 1e3 * a.step},
                            {"predicted_images_per_sec", a.images_s}});
  }
  const double step = measured_step(ctx, rate);
  auto line = [](const comm::CollectiveCost& c) { return nlohmann::json{c.latency, c.per_byte}; };
  const auto& l = p.link;
  const auto& c = p.compute;
  // The model's inputs, exactly: a reader can recompute every prediction (tests do).
  j["inputs"] = {{"ranks", l.ranks},
                 {"nodes", l.nodes},
                 {"alpha_s", l.alpha},
                 {"beta_bytes_s", l.beta},
                 {"allreduce", line(l.allreduce)},
                 {"allreduce_ring", line(l.allreduce_ring)},
                 {"reduce_scatter", line(l.reduce_scatter)},
                 {"allgather", line(l.allgather)},
                 {"step_s", c.step},
                 {"optimizer_s", c.optimizer},
                 {"fp16_s_per_byte", c.fp16_per_byte},
                 {"gradient_bytes", c.gradient_bytes},
                 {"batch", c.batch},
                 {"overlap", c.overlap}};
  j.update({{"nodes", p.link.nodes},
            {"probe_seconds", p.link.seconds},
            {"alpha_us", 1e6 * p.link.alpha},
            {"beta_mb_s", p.link.beta / 1e6},
            {"compute_step_ms", 1e3 * p.compute.step},
            {"optimizer_ms", 1e3 * p.compute.optimizer},
            {"predicted_step_ms", 1e3 * p.predicted_step},
            {"measured_step_ms", 1e3 * step},
            {"prediction_error", step / p.predicted_step - 1},
            {"alternatives", alternatives}});
  return j;
}

void write_metrics(const JobContext& ctx, const RunReport& r, double rate, double wall) {
  const auto& m = r.result->metrics;
  const AccuracyPoint last = m.curve().empty() ? AccuracyPoint{} : m.curve().back();
  auto j = m.to_json();
  j.update(exchange_json(r.exchange));
  const std::vector<double> rss =
      r.peak_rss_mb.empty() ? std::vector{peak_rss_mb()} : r.peak_rss_mb;
  j.update(
      {{"peak_rss_mb", *std::max_element(rss.begin(), rss.end())}, {"peak_rss_mb_per_rank", rss}});
  if (r.all_workers) j.update(workers_json(*r.all_workers));
  const auto* t = r.result;
  j.update({{"start_step", t->start_step},
            {"last_step", t->last_step},
            {"stopped_by_signal", t->stopped},
            {"data_wait_seconds", t->data_wait_seconds},
            {"data_wait_fraction",
             m.train_seconds() > 0 ? t->data_wait_seconds / m.train_seconds() : 0.0},
            {"skipped_records", t->skipped_records},
            {"test_accuracy", last.test_accuracy},
            {"test_loss", last.test_loss},
            {"epochs", last.epoch},
            {"train_images_per_sec", rate},
            {"wall_seconds", wall},
            {"mode", comm::to_string(ctx.roles.mode)},
            {"ranks", ctx.mpi.size()},
            {"num_ps", ctx.roles.num_ps},
            {"workers", ctx.roles.num_workers()},
            {"threads", ctx.threads},
            {"model", ctx.model->spec().text()},
            {"input_shape", ctx.facts.input.str()},
            {"parameters", ctx.model->layout().parameter_count()},
            {"forward_flops_per_image", 2 * ctx.model->forward_macs()},
            {"precision", nn::to_string(ctx.precision)},
            {"options", ctx.options.recorded},
            {"transport", comm::describe_transport().summary()},
            {"build", build_json()}});
  if (ctx.roles.mode != comm::Mode::kLocal) j["exchange_plan"] = plan_json(ctx, rate);
  if (ctx.local) j["local_checkpoints"] = local_json(*ctx.local, *t);
  if (!t->compute_ms_per_row.empty()) j.update(stragglers_json(ctx, *t));
  write_json_file(ctx.options.output.metrics_json, j);
}

}  // namespace

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::vector<double> gather_peak_rss(MPI_Comm comm) {
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  const double mine = peak_rss_mb();
  std::vector<double> all(rank == 0 ? static_cast<std::size_t>(size) : 0);
  mpi_call("MPI_Gather (peak memory)", MPI_Gather, &mine, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE,
           0, comm);
  return all;
}

optim::OptimizerConfig optimizer_config(const TrainOptions& o) {
  optim::OptimizerConfig oc;
  oc.kind = o.model.optimizer;
  oc.momentum = o.model.momentum;
  oc.nesterov = o.model.nesterov;
  oc.weight_decay = o.model.weight_decay;
  return oc;
}

void print_roles(JobContext& ctx, const std::vector<nn::ParamRange>& shards) {
  const auto& mpi = ctx.mpi;
  const auto& roles = ctx.roles;
  char host[kHostChars] = {};
  std::strncpy(host, mpi.host().c_str(), sizeof host - 1);
  std::vector<char> hosts(static_cast<std::size_t>(kHostChars * mpi.size()));
  std::vector<int> threads(static_cast<std::size_t>(mpi.size()));
  {
    comm::Watchdog::Scope guard(ctx.watchdog.get(), "gathering the role table");
    // Every rank: an async chief (not rank 0) names workers by host too.
    mpi_call("MPI_Allgather (hosts)", MPI_Allgather, host, kHostChars, MPI_CHAR, hosts.data(),
             kHostChars, MPI_CHAR, MPI_COMM_WORLD);
    mpi_call("MPI_Gather (threads)", MPI_Gather, &ctx.threads, 1, MPI_INT, threads.data(), 1,
             MPI_INT, 0, MPI_COMM_WORLD);
  }
  for (int r = 0; r < mpi.size(); ++r) ctx.hosts.emplace_back(hosts.data() + kHostChars * r);
  if (mpi.rank() != 0) return;
  const bool async = roles.mode == comm::Mode::kAsync;
  std::string how;
  if (async) how = ", " + std::to_string(roles.num_ps) + " parameter server(s)";
  if (roles.mode == comm::Mode::kSync) {
    const comm::ExchangeChoice& c = ctx.exchange.choice;
    char mb[32];
    std::snprintf(mb, sizeof mb, "%g", c.bucket_mb);
    how = std::string(", gradients ") + (c.wire == comm::Compression::kFp16 ? "fp16" : "fp32") +
          " on the wire in " + mb + " MB buckets, " +
          (c.sharded ? "optimizer sharded over the ranks (ZeRO-1)"
           : c.ring  ? "whole optimizer on every rank, ring allreduce"
                     : "whole optimizer on every rank");
  }
  std::printf("dtrain: %d ranks, mode %s%s\n", mpi.size(), comm::to_string(roles.mode).c_str(),
              how.c_str());
  std::printf("  %-5s %-18s %-16s %-7s %s\n", "rank", "role", "host", "threads", "parameters");
  for (int r = 0; r < mpi.size(); ++r) {
    const int ps = roles.ps_index(r);
    const std::string params = !async    ? "full replica"
                               : ps >= 0 ? shard_text(shards[static_cast<std::size_t>(ps)])
                                         : "-";
    std::printf("  %-5d %-18s %-16s %-7d %s\n", r, roles.role_name(r).c_str(),
                hosts.data() + kHostChars * r, threads[static_cast<std::size_t>(r)],
                params.c_str());
  }
  std::printf("transport: %s\n", comm::describe_transport().summary().c_str());
  std::printf("%s", describe_plan(ctx.exchange).c_str());
  std::string build = "dtrain " + dtrain_version() + " (commit " + dtrain_commit() + ")";
  for (const auto& [name, version] : library_versions()) build += "; " + name + " " + version;
  build += "; own loops " + own_loops();
  std::printf("build: %s\n", build.c_str());
  std::fflush(stdout);
}

void print_header(const JobContext& ctx, const TrainingPlan& plan) {
  const auto& o = ctx.options;
  const auto& model = *ctx.model;
  std::printf("model %s\n%s", o.model.arch.c_str(), model.describe().c_str());
  std::printf("parameters:\n%s", model.layout().describe().c_str());
  std::printf("precision: %s\n", ctx.precision_note.c_str());
  std::printf("train data: %s (%lld examples)\ntest data: %s (%lld examples)\n",
              ctx.train->describe().c_str(), static_cast<long long>(ctx.train->size()),
              ctx.test->describe().c_str(), static_cast<long long>(ctx.test->size()));
  const bool async = ctx.roles.mode == comm::Mode::kAsync;
  std::printf(
      "training %lld steps per worker (batch %lld %s, %s lr %.2e, decay %.2f per %lld steps%s)\n",
      static_cast<long long>(plan.total_steps()), static_cast<long long>(o.training.batch_size),
      async ? "per worker" : "global", optim::to_string(o.model.optimizer).c_str(),
      static_cast<double>(o.model.lr), static_cast<double>(o.model.lr_decay_rate),
      static_cast<long long>(plan.schedule().decay_steps),
      async ? " of each worker: the servers decay by pushes applied" : "");
  if (async && o.dist.balance == Balance::kSpeed)
    std::printf(
        "work taken by speed (--balance speed): the %lld x %d worker-batches of those steps are "
        "taken one at a time from a counter on server 0, so a faster worker trains more of them\n",
        static_cast<long long>(plan.total_steps()), ctx.roles.num_workers());
  std::fflush(stdout);
}

ChiefOutputs::ChiefOutputs(const JobContext& ctx, bool chief) {
  const auto& out = ctx.options.output;
  if (!chief) return;
  if (!out.log_dir.empty()) {
    summaries_ = std::make_unique<SummaryWriter>(out.log_dir);
    std::printf("TensorBoard events: %s\n", summaries_->path().c_str());
  }
  if (!out.metrics_csv.empty())
    csv_ = std::make_unique<MetricsCsv>(out.metrics_csv, ctx.resumed.has_value());
}

TrainerHooks ChiefOutputs::hooks() const {
  TrainerHooks h;
  h.summaries = summaries_.get();
  h.csv = csv_.get();
  return h;
}

void report(const JobContext& ctx, const RunReport& r) {
  const auto& m = r.result->metrics;
  const auto& curve = m.curve();
  const double wall = now_seconds() - ctx.wall0;
  const double rate = images_per_sec(r);
  if (curve.empty()) {
    std::printf("no evaluation (%lld steps, %.0f img/s, wall %.1fs)\n",
                static_cast<long long>(m.steps()), rate, wall);
  } else {
    const AccuracyPoint& last = curve.back();
    std::printf(
        "final test accuracy %.2f%%  test loss %.4f  (%lld steps, %.2f epochs, %.0f img/s, wall "
        "%.1fs, peak memory %.0f MB)\n",
        100.0 * last.test_accuracy, last.test_loss, static_cast<long long>(m.steps()), last.epoch,
        rate, wall, peak_rss_mb());
  }
  if (r.all_workers) {
    const auto& w = *r.all_workers;
    std::printf("staleness (server versions between pull and push): mean %.2f, max %.0f\n",
                w.staleness_sum / std::max(1.0, w.staleness_count), w.staleness_max);
  }
  const std::string miss = prediction_miss(ctx.exchange, measured_step(ctx, rate));
  if (!miss.empty()) std::printf("%s\n", miss.c_str());
  std::fflush(stdout);
  if (!ctx.options.output.metrics_json.empty()) write_metrics(ctx, r, rate, wall);
}

void export_model(const JobContext& ctx, const nn::Replica& replica, const TrainResult& r) {
  const auto& path = ctx.options.output.export_path;
  if (path.empty()) return;
  const auto& curve = r.metrics.curve();
  const double acc = curve.empty() ? 0.0 : curve.back().test_accuracy;
  save_model(path, *ctx.model, replica.params().data(), r.last_step, acc);
  std::printf("exported the model to %s\n", path.c_str());
  std::fflush(stdout);
}

}  // namespace dtrain::train
