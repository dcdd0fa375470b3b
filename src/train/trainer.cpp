#include "dtrain/train/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "data/row_schedule.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/util/error.h"
#include "train/evaluator.h"
#include "train/local_cost.h"
#include "train/row_balance.h"
#include "train/straggler_watch.h"
#include "train/summary_writer.h"
#include "util/clock.h"
#include "util/signals.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

constexpr int64_t kFirstAutoLocal = AutoLocalInterval::kFirst;

std::string duration_string(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

// A window of steps whose loss, rows and time are averaged for a report.
struct Window {
  double loss = 0, seconds = 0;
  int64_t rows = 0, images = 0;
  void add(double l, int64_t r, int64_t img, double dt) {
    loss += l;
    rows += r;
    images += img;
    seconds += dt;
  }
  double mean_loss() const { return rows ? loss / static_cast<double>(rows) : 0.0; }
  double rate() const { return seconds > 0 ? static_cast<double>(images) / seconds : 0.0; }
};

TrainingPlan make_plan(const TrainerSetup& s) {
  return TrainingPlan(s.train_data->unit_sizes(),
                      TrainingPlan::shard_config(*s.options, s.mode, s.workers), *s.options);
}

}  // namespace

Trainer::Trainer(TrainerSetup setup)
    : s_(std::move(setup)), plan_(make_plan(s_)), local_cost_(std::make_unique<LocalCostMeter>()) {
  // Test hook: DTRAIN_TEST_SLOW_WORKER=W:MS makes worker W a slower CPU: MS ms more in a step
  // of its even share of rows, in proportion to the rows it computes (--balance speed gives it
  // fewer), so that a timeline shows who waits for whom and the balance has something to move.
  int who = -1, ms = 0;
  if (const char* spec = std::getenv("DTRAIN_TEST_SLOW_WORKER");
      spec && std::sscanf(spec, "%d:%d", &who, &ms) == 2 && who == s_.worker) {
    slow_ms_ = ms;
  }
  // Test hook: DTRAIN_TEST_RECORD_IDS=DIR: each worker writes the example ids it trains on, one
  // per line, to DIR/worker-W.PID.ids (the exactly-once checks of work taken read them).
  if (const char* dir = std::getenv("DTRAIN_TEST_RECORD_IDS"); dir && *dir) {
    const std::string path = std::string(dir) + "/worker-" + std::to_string(s_.worker) + "." +
                             std::to_string(::getpid()) + ".ids";
    ids_file_.reset(std::fopen(path.c_str(), "w"));
    if (!ids_file_) throw Error("DTRAIN_TEST_RECORD_IDS: cannot write " + path);
  }
  if (s_.start_step > plan_.total_steps()) {
    throw OptionError("the checkpoint is at step " + std::to_string(s_.start_step) + ", past the " +
                      std::to_string(plan_.total_steps()) +
                      " steps this run trains for (raise --epochs or --steps)");
  }
  if (s_.hooks.share_compute && s_.workers > 1)
    stragglers_ = std::make_unique<StragglerWatch>(s_.workers);
  const data::ShardPlan& shards = plan_.shards();
  if (s_.rows && stragglers_ && shards.config().policy == data::ShardPolicy::kGlobal) start_rows();
  // auto: a first node-local checkpoint soon, to measure what one costs.
  local_every_ = s_.options->output.local_checkpoint_steps;
  next_local_ = s_.start_step + local_interval();
  if (chief() && s_.hooks.local_interval) s_.hooks.local_interval(next_local_ - s_.start_step);
}

Trainer::~Trainer() = default;

void Trainer::start_rows() {
  const data::ShardPlan& shards = plan_.shards();
  const int64_t batch = shards.config().global_batch;
  rows_ = s_.rows;
  quantum_ = split_quantum(batch, s_.workers);
  const std::string why = splits_mismatch(s_.row_splits, s_.workers, batch);
  if (why.empty()) {
    rows_->start(s_.row_splits);
    return;
  }
  // --replay-splits was checked at start; a checkpoint of another layout starts evenly.
  if (chief() && !s_.row_splits.empty())
    std::printf("note: the checkpoint's row splits do not fit this run (%s): starting evenly\n",
                why.c_str());
  std::vector<int64_t> even;
  for (int w = 0; w < s_.workers; ++w) even.push_back(shards.worker_batch(w));
  rows_->start({{0, std::move(even)}});
}

bool Trainer::local_due(int64_t done) {
  // Asked again every step until one is taken: an async chief proposes none while the last
  // is still under way.
  return chief() && s_.hooks.save_local_checkpoint && done >= next_local_;
}

void Trainer::local_kept(int64_t step) {
  local_planned_from_ = step;
  next_local_ = step + local_interval();
  if (s_.options->output.local_checkpoint_steps <= 0) retune_local();
  if (s_.hooks.local_interval) s_.hooks.local_interval(next_local_ - step);
}

int64_t Trainer::local_interval() const {
  return local_every_ > 0 ? local_every_ : kFirstAutoLocal;
}

void Trainer::retune_local() {
  const auto step = local_cost_->baseline();
  const double step_seconds = step ? *step : step_seconds_;
  if (step_seconds <= 0) return;
  // The cost: the time the checkpoints added to the iterations after them, once one is
  // measured (local_cost.h: it counts what this rank's clocks do not see), never below the
  // time in the save itself. Before that, this rank's own account (its time in the save plus
  // the background writing each caused) only spaces them further apart than the first
  // interval: it misses most of the cost.
  const double in_loop = local_seconds_ / static_cast<double>(std::max<int64_t>(1, local_count_));
  const auto measured = local_cost_->seconds_per_checkpoint();
  const double cost =
      measured ? std::max(*measured, in_loop)
               : in_loop + (s_.hooks.local_background_seconds ? s_.hooks.local_background_seconds()
                                                              : 0.0);
  const int64_t before = local_interval();
  local_every_ =
      AutoLocalInterval::next(before, cost, step_seconds, measured ? local_cost_->measured() : 0);
  next_local_ = local_planned_from_ + local_every_;
  // Said again with the first measurement, and when it has changed twofold since last said.
  const int64_t said = local_announced_;
  const bool first_measured = measured && !local_measured_announced_;
  if (!first_measured && said > 0 && local_every_ < 2 * said && 2 * local_every_ > said) return;
  local_announced_ = local_every_;
  local_measured_announced_ = local_measured_announced_ || measured.has_value();
  std::printf(
      "node-local checkpoints every %lld steps (auto: one %s %.1f ms here, a step %.1f ms: "
      "within %.0f%%)\n",
      static_cast<long long>(local_every_), measured ? "adds to the steps after it" : "costs",
      1e3 * cost, 1e3 * step_seconds, 100 * AutoLocalInterval::kShare);
  std::fflush(stdout);
}

float Trainer::learning_rate(int64_t step) {
  // Async: the servers apply the rate, by the pushes they have applied; report theirs.
  if (auto applied = s_.exchange->applied_learning_rate()) return *applied;
  return plan_.schedule().at(step);
}

void Trainer::maybe_evaluate(int64_t done, bool last, RunMetrics& metrics) {
  const bool async = s_.mode == comm::Mode::kAsync;
  const bool evaluates = s_.mode == comm::Mode::kSync || chief();
  if (!evaluates || (last && async)) return;
  const int64_t every = s_.options->training.eval_every;
  bool due = last || reached(done, every);
  for (int64_t d = prev_done_ + 1; every <= 0 && !due && d <= done; ++d) due = plan_.ends_epoch(d);
  if (due) evaluate_now(done, metrics);
}

void Trainer::evaluate_now(int64_t done, RunMetrics& metrics) {
  TimelineSpan span("evaluation", "eval", done);
  iteration_has_other_work_ = true;
  const auto& o = *s_.options;
  EvalShare share;
  if (s_.sum_over_workers) share = {s_.worker, s_.workers, s_.sum_over_workers};
  const EvalResult r = evaluate(*s_.replica, *s_.test_data, o.training.eval_batch_size, share);
  AccuracyPoint p{done, plan_.epoch_of(done), metrics.train_seconds(), r.accuracy(), r.loss()};
  metrics.add_eval(p);
  if (!chief()) return;
  std::printf(
      "eval   step %6lld epoch %5.2f  test accuracy %.2f%%  test loss %.4f  "
      "(%lld images in %.2fs, trained %.1fs)\n",
      static_cast<long long>(done), p.epoch, 100.0 * r.accuracy(), r.loss(),
      static_cast<long long>(r.examples), r.seconds, metrics.train_seconds());
  std::fflush(stdout);
  if (auto* w = s_.hooks.summaries) {
    w->scalar("test/accuracy", done, r.accuracy());
    w->scalar("test/loss", done, r.loss());
    w->flush();
  }
  if (s_.hooks.csv)
    s_.hooks.csv->row(done, p.epoch, std::nullopt, learning_rate(done - 1), std::nullopt,
                      r.accuracy(), r.loss(), std::nullopt);
}

void Trainer::write_summaries(int64_t done, double loss, double rate) {
  const float lr = learning_rate(done - 1);
  const std::optional<double> staleness = s_.hooks.staleness ? s_.hooks.staleness() : std::nullopt;
  if (auto* w = s_.hooks.summaries) {
    w->scalar("train/loss", done, loss);
    w->scalar("train/learning_rate", done, lr);
    w->scalar("train/images_per_sec", done, rate);
    if (staleness) w->scalar("train/staleness", done, *staleness);
    if (stragglers_) {  // each worker's compute time per row, over the last window it had
      const auto& ms = stragglers_->last();
      for (std::size_t r = 0; r < ms.size(); ++r)
        if (ms[r] > 0) w->scalar("compute/ms_per_row/worker_" + std::to_string(r), done, ms[r]);
    }
    const auto& layout = s_.replica->model().layout();
    for (const auto& t : layout.tensors()) {
      if (t.name.starts_with("conv") && t.name.ends_with("/kernel")) {
        w->histogram(t.name, done, {s_.replica->params().data() + t.offset, t.size});
      }
    }
    w->flush();
  }
  if (s_.hooks.csv)
    s_.hooks.csv->row(done, plan_.epoch_of(done), loss, lr, rate, std::nullopt, std::nullopt,
                      staleness);
}

void Trainer::log_progress(int64_t done, double loss, double rate, int64_t images) {
  const int64_t total = plan_.total_steps();
  const double eta = rate > 0 ? static_cast<double>((total - done) * images) / rate : 0;
  std::printf("step %6lld/%lld  epoch %5.2f  loss %.4f  lr %.2e  %7.0f img/s  eta %s\n",
              static_cast<long long>(done), static_cast<long long>(total), plan_.epoch_of(done),
              loss, static_cast<double>(learning_rate(done - 1)), rate,
              duration_string(eta).c_str());
  std::fflush(stdout);
}

Trainer::StepOutcome Trainer::train_step(data::BatchStream& stream, int64_t step) {
  const double t0 = now_seconds();
  TimelineSpan span("step", "step", step);
  std::shared_ptr<const data::Batch> batch;
  {
    TimelineSpan wait("data wait", "data", step);
    batch = stream.next();
  }
  if (!batch) throw Error("the training data ran out before step " + std::to_string(step));
  for (int64_t i = 0; ids_file_ && i < batch->real_rows; ++i)
    std::fprintf(ids_file_.get(), "%lld\n",
                 static_cast<long long>(batch->ids[static_cast<std::size_t>(i)]));
  {
    TimelineSpan refresh("exchange: before step", "exchange", step);
    s_.exchange->before_step(*s_.replica, step);
  }
  // The compute time: the forward and backward (with the test hook's delay, which stands for
  // a slower CPU), not the waits for data and for the other ranks.
  const double compute_start = now_seconds();
  if (slow_ms_ > 0) {
    TimelineSpan slow("injected delay", "compute", step);
    const double share = static_cast<double>(batch->real_rows) /
                         static_cast<double>(plan_.shards().worker_batch(s_.worker));
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(slow_ms_ * share));
  }
  // The mean over the batch this step's gradient stands for: the global batch when ranks sum
  // their gradients (sync, local), this worker's own rows when each push stands alone (async).
  const bool own_rows = s_.mode == comm::Mode::kAsync;
  const int64_t denominator = own_rows ? batch->real_rows : batch->global_rows;
  const float scale = denominator > 0 ? 1.0f / static_cast<float>(denominator) : 0.f;
  const nn::BatchView view{batch->images.data(), batch->labels.data(), batch->ids.data(),
                           batch->rows, batch->real_rows};
  auto ready = [this](nn::ParamRange r) { s_.exchange->gradients_ready(r); };
  const auto stats =
      s_.replica->train_batch(view, {s_.options->model.seed, step, nullptr}, scale, ready);
  const double compute = now_seconds() - compute_start;
  if (batch->real_rows > 0)
    timeline::counter("compute ms per row", timeline::now_us(),
                      1e3 * compute / static_cast<double>(batch->real_rows));
  {
    TimelineSpan apply("exchange: apply gradients", "exchange", step);
    s_.exchange->after_step(*s_.replica, step, plan_.schedule().at(step));
  }
  const double dt = now_seconds() - t0;
  timeline::counter("images/s", timeline::now_us(), static_cast<double>(denominator) / dt);
  return {stats.loss_sum, batch->real_rows, denominator, dt, compute};
}

void Trainer::share_compute_times(int64_t done) {
  const auto totals = s_.hooks.share_compute(stragglers_->seconds(), stragglers_->rows());
  if (totals.empty()) return;  // an async worker: the chief judges
  const auto named = stragglers_->judge_totals(totals);
  const std::optional<int64_t> from = rows_ && !s_.replay_splits ? rebalance(done) : std::nullopt;
  if (!chief()) return;
  for (const Straggler& n : named) {
    const auto w = static_cast<std::size_t>(n.worker);
    const std::string who =
        w < s_.worker_names.size() ? s_.worker_names[w] : "worker " + std::to_string(n.worker);
    std::string what = s_.mode == comm::Mode::kSync ? ": every step waits for it"
                       : s_.hooks.take_work         ? ": the others take more of the work"
                                                    : ": it takes its share of each epoch slower";
    if (rows_) {
      what = ": giving it " + std::to_string(rows_->at(from.value_or(done))[w]) + " of " +
             std::to_string(plan_.shards().config().global_batch) + " rows";
    }
    std::printf(
        "%s computes %.1fx slower than the median (%.3f against %.3f ms per row over "
        "the chief's steps %lld-%lld)%s\n",
        who.c_str(), n.ratio, n.ms_per_row, n.median_ms_per_row,
        static_cast<long long>(done - StragglerWatch::kWindow + 1), static_cast<long long>(done),
        what.c_str());
    named_.push_back({n.worker, n.ratio, done});
  }
  if (!named.empty()) std::fflush(stdout);
}

std::optional<int64_t> Trainer::rebalance(int64_t done) {
  // The reader may hold `prefetch` batches and be reading the next: they keep their split. A
  // resumed run may hold a change decided for a later step still: not before it.
  const int64_t from = std::max(done + s_.options->data.prefetch + 2, rows_->last_change());
  const std::vector<int64_t> current = rows_->at(from);
  std::vector<int64_t> next = balanced_rows(current, stragglers_->last(), quantum_);
  if (next == current) return std::nullopt;
  rows_->set_from(from, std::move(next));
  ++split_changes_;
  return from;
}

bool Trainer::checkpoint_or_stop(int64_t done, bool last) {
  const auto& out = s_.options->output;
  const SignalRequests signals = take_signal_requests();
  int requests =
      (signals.checkpoint ? comm::kCheckpointRequest : 0) | (signals.stop ? comm::kStopRequest : 0);
  // The schedule is the chief's: the others follow it through the agreement.
  if (chief() && s_.hooks.save_checkpoint) {
    const bool periodic =
        reached(done, out.checkpoint_steps) ||
        (out.checkpoint_secs > 0 && now_seconds() - last_checkpoint_time_ >= out.checkpoint_secs);
    if (periodic || last) {
      requests |= comm::kCheckpointRequest;
      last_checkpoint_time_ = now_seconds();  // asked once; the agreed step may come later
    }
  }
  if (local_due(done)) requests |= comm::kLocalCheckpointRequest;
  const int agreed = s_.exchange->agree(requests, done, last);
  // Every rank with the hook calls it: ranks that share the state take part in gathering it.
  if ((agreed & comm::kCheckpointRequest) && s_.hooks.save_checkpoint) {
    s_.hooks.save_checkpoint(done, plan_.epoch_of(done));
    last_checkpoint_time_ = now_seconds();
    iteration_has_other_work_ = true;
  } else if ((agreed & comm::kLocalCheckpointRequest) && s_.hooks.save_local_checkpoint) {
    // A checkpoint in --model-dir at the same step makes the node-local one redundant.
    const double t0 = now_seconds();
    s_.hooks.save_local_checkpoint(done, plan_.epoch_of(done));
    local_seconds_ += now_seconds() - t0;
    ++local_count_;
    local_cost_->taken();
    next_local_ = done + local_interval();
    if (chief() && !s_.hooks.local_kept) local_kept(done);
  }
  if (!(agreed & comm::kStopRequest)) return false;
  if (chief()) {
    std::printf("stopping after step %lld on a termination signal%s\n",
                static_cast<long long>(done),
                s_.hooks.save_checkpoint ? " (checkpoint written; run again to resume)" : "");
    std::fflush(stdout);
  }
  return true;
}

data::BatchStream::Options Trainer::stream_options() const {
  const auto& o = *s_.options;
  data::BatchStream::Options so;
  so.worker = s_.worker;
  so.epochs = -1;
  so.prefetch = o.data.prefetch;
  so.num_classes = o.data.num_classes;
  // Resuming: the stream starts inside the epoch the checkpoint was taken in.
  const std::size_t e = plan_.epoch_index(s_.start_step);
  so.start_epoch = static_cast<int64_t>(e);
  so.start_step = s_.start_step - plan_.epoch_start(e);
  so.rows = rows_;
  so.requested = static_cast<bool>(s_.hooks.take_work);
  return so;
}

std::optional<int64_t> Trainer::next_step(data::BatchStream& stream) {
  if (!s_.hooks.take_work) {
    if (prev_done_ >= plan_.total_steps()) return std::nullopt;
    return prev_done_;
  }
  // Work taken: this worker holds the chunk it trains and the next one (read meanwhile).
  for (const int64_t g : s_.hooks.take_work(2)) {
    taken_.push_back(g);
    const int64_t step = g / s_.workers;
    const std::size_t e = plan_.epoch_index(step);
    stream.request(
        {static_cast<int64_t>(e), step - plan_.epoch_start(e), static_cast<int>(g % s_.workers)});
  }
  if (taken_.empty()) return std::nullopt;
  return taken_.front() / s_.workers;
}

bool Trainer::reached(int64_t done, int64_t every) const {
  return every > 0 && done / every > prev_done_ / every;
}

TrainResult Trainer::run() {
  const auto& o = *s_.options;
  const int64_t total = plan_.total_steps();
  TrainResult result{RunMetrics(std::min<int64_t>(20, (total - s_.start_step) / 10))};
  data::BatchStream stream(s_.train_data, plan_.shards(), stream_options());
  last_checkpoint_time_ = now_seconds();
  RunMetrics& metrics = result.metrics;
  Window log, summary;
  int64_t step = s_.start_step;
  prev_done_ = s_.start_step;
  bool first = true;
  while (!result.stopped) {
    const std::optional<int64_t> at = next_step(stream);
    if (!at) break;
    step = *at;
    const double iteration_start = now_seconds();
    iteration_has_other_work_ = first;  // the first builds the network
    const StepOutcome r = train_step(stream, step);
    if (!taken_.empty()) taken_.pop_front();
    metrics.add_step(r.images, r.seconds);
    // The first step builds the network (oneDNN primitives): not a step's time.
    if (!first)
      step_seconds_ = step_seconds_ > 0 ? 0.9 * step_seconds_ + 0.1 * r.seconds : r.seconds;
    log.add(r.loss_sum, r.rows, r.images, r.seconds);
    summary.add(r.loss_sum, r.rows, r.images, r.seconds);
    if (stragglers_ && !first) stragglers_->add(r.compute_seconds, r.rows);
    first = false;
    const int64_t done = ++step;
    // Work taken: the last chunk this worker gets (the steps jump where others took chunks).
    const bool last = s_.hooks.take_work ? taken_.empty() : done == total;
    if (stragglers_ && reached(done, StragglerWatch::kWindow)) share_compute_times(done);
    if (chief() && (reached(done, o.training.log_every) || last)) {
      log_progress(done, log.mean_loss(), log.rate(), r.images);
      log = Window{};
    }
    if (chief() && (reached(done, o.output.summary_steps) || last) &&
        (s_.hooks.summaries || s_.hooks.csv)) {
      write_summaries(done, summary.mean_loss(), summary.rate());
      summary = Window{};
    }
    maybe_evaluate(done, last, metrics);
    result.stopped = checkpoint_or_stop(done, last);
    if (s_.hooks.each_step) s_.hooks.each_step(done);
    if (chief() && s_.hooks.local_kept) {
      if (const auto kept = s_.hooks.local_kept()) local_kept(*kept);
    }
    if (chief() && s_.hooks.save_local_checkpoint)
      local_cost_->iteration(now_seconds() - iteration_start, !iteration_has_other_work_);
    prev_done_ = done;
  }
  result.start_step = s_.start_step;
  result.last_step = step;
  result.data_wait_seconds = stream.wait_seconds();
  result.skipped_records = s_.train_data->skipped_records();
  result.local_checkpoint_seconds = local_seconds_;
  result.local_checkpoints_measured = local_cost_->measured();
  result.local_checkpoint_added_seconds = local_cost_->seconds_per_checkpoint().value_or(0.0);
  if (stragglers_) {
    result.compute_ms_per_row = stragglers_->mean_ms_per_row();
    result.stragglers = named_;
  }
  if (rows_) {
    result.rows_per_worker = rows_->at(step);
    result.split_changes = split_changes_;
  }
  return result;
}

}  // namespace dtrain::train
