#include "dtrain/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dtrain/train/evaluator.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"
#include "dtrain/util/signals.h"

namespace dtrain::train {

namespace {

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

}  // namespace

Trainer::Trainer(TrainerSetup setup)
    : s_(std::move(setup)), plan_(s_.train_data->unit_sizes(), s_.shard) {
  const auto& o = *s_.options;
  // Epoch lengths can differ (files policy), so the global step of each epoch start is summed.
  epoch_starts_.push_back(0);
  auto more_epochs = [&] {
    const auto e = static_cast<int64_t>(epoch_starts_.size()) - 1;
    return o.steps > 0 ? epoch_starts_.back() < o.steps : e < o.epochs;
  };
  while (more_epochs()) {
    const auto e = static_cast<int64_t>(epoch_starts_.size()) - 1;
    epoch_starts_.push_back(epoch_starts_.back() + plan_.steps_in_epoch(e));
  }
  total_steps_ = o.steps > 0 ? o.steps : epoch_starts_.back();
  schedule_.base = o.lr;
  schedule_.decay_rate = o.lr_decay_rate;
  schedule_.decay_steps = o.lr_decay_steps > 0 ? o.lr_decay_steps : plan_.steps_in_epoch(0);
  schedule_.staircase = o.lr_staircase;
  if (s_.start_step > total_steps_) {
    throw OptionError("the checkpoint is at step " + std::to_string(s_.start_step) + ", past the " +
                      std::to_string(total_steps_) +
                      " steps this run trains for (raise --epochs or --steps)");
  }
}

std::size_t Trainer::epoch_index(int64_t step) const {
  auto it = std::upper_bound(epoch_starts_.begin(), epoch_starts_.end(), step);
  return static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, it - epoch_starts_.begin() - 1));
}

double Trainer::epoch_of(int64_t step) const {
  const std::size_t e = epoch_index(step);
  if (e + 1 >= epoch_starts_.size()) return static_cast<double>(e);
  const double len = static_cast<double>(epoch_starts_[e + 1] - epoch_starts_[e]);
  return static_cast<double>(e) + static_cast<double>(step - epoch_starts_[e]) / len;
}

void Trainer::maybe_evaluate(int64_t step, bool last, RunMetrics& metrics) {
  if (!s_.evaluate) return;
  const auto& o = *s_.options;
  const int64_t done = step + 1;
  if (last && !s_.evaluate_last) return;
  bool due = last;
  if (o.eval_every > 0) {
    due = due || done % o.eval_every == 0;
  } else {
    due = due || std::binary_search(epoch_starts_.begin() + 1, epoch_starts_.end(), done);
  }
  if (due) evaluate_now(done, metrics);
}

void Trainer::evaluate_now(int64_t done, RunMetrics& metrics) {
  const auto& o = *s_.options;
  const EvalResult r = evaluate(*s_.replica, *s_.test_data, o.eval_batch_size, s_.eval_comm);
  AccuracyPoint p{done, epoch_of(done), metrics.train_seconds(), r.accuracy(), r.loss()};
  metrics.add_eval(p);
  if (!s_.chief) return;
  std::printf(
      "eval   step %6lld epoch %5.2f  test accuracy %.2f%%  test loss %.4f  "
      "(%lld images in %.2fs, trained %.1fs)\n",
      static_cast<long long>(done), p.epoch, 100.0 * r.accuracy(), r.loss(),
      static_cast<long long>(r.examples), r.seconds, metrics.train_seconds());
  std::fflush(stdout);
  if (s_.summaries) {
    s_.summaries->scalar("test/accuracy", done, r.accuracy());
    s_.summaries->scalar("test/loss", done, r.loss());
    s_.summaries->flush();
  }
  if (s_.csv)
    s_.csv->row(done, p.epoch, std::nullopt, schedule_.at(done - 1), std::nullopt, r.accuracy(),
                r.loss(), std::nullopt);
}

void Trainer::write_summaries(int64_t done, double loss, double rate) {
  const float lr = schedule_.at(done - 1);
  std::optional<double> staleness;
  std::vector<std::pair<std::string, double>> extra;
  if (s_.extra_scalars) extra = s_.extra_scalars();
  for (const auto& [k, v] : extra) {
    if (k == "staleness") staleness = v;
  }
  if (s_.summaries) {
    auto& w = *s_.summaries;
    w.scalar("train/loss", done, loss);
    w.scalar("train/learning_rate", done, lr);
    w.scalar("train/images_per_sec", done, rate);
    for (const auto& [k, v] : extra) w.scalar("train/" + k, done, v);
    const auto& layout = s_.replica->model().layout();
    for (const auto& t : layout.tensors()) {
      if (t.name.starts_with("conv") && t.name.ends_with("/kernel")) {
        w.histogram(t.name, done, {s_.replica->params().data() + t.offset, t.size});
      }
    }
    w.flush();
  }
  if (s_.csv)
    s_.csv->row(done, epoch_of(done), loss, lr, rate, std::nullopt, std::nullopt, staleness);
}

RunMetrics Trainer::run() {
  const auto& o = *s_.options;
  RunMetrics metrics(std::min<int64_t>(20, (total_steps_ - s_.start_step) / 10));
  data::BatchStream::Options so;
  so.worker = s_.worker;
  so.epochs = -1;
  so.prefetch = o.prefetch;
  so.num_classes = o.num_classes;
  // Resuming: the stream starts inside the epoch the checkpoint was taken in.
  const std::size_t e = epoch_index(s_.start_step);
  so.start_epoch = static_cast<int64_t>(e);
  so.start_step = s_.start_step - epoch_starts_[e];
  data::BatchStream stream(s_.train_data, plan_, so);
  auto ready = [this](nn::ParamRange r) { s_.exchange->gradients_ready(r); };
  last_checkpoint_time_ = now_seconds();

  Window log, summary;
  int64_t step = s_.start_step;
  for (; step < total_steps_; ++step) {
    const double t0 = now_seconds();
    const auto batch = stream.next();
    if (!batch) throw Error("the training data ran out before step " + std::to_string(step));
    s_.exchange->before_step(*s_.replica, step);
    // The mean over the batch this step's gradient stands for: the global batch when ranks sum
    // their gradients (sync), this worker's own rows when each push stands alone (async).
    const int64_t denominator = s_.count_global_rows ? batch->global_rows : batch->real_rows;
    const float scale = denominator > 0 ? 1.0f / static_cast<float>(denominator) : 0.f;
    const auto stats =
        s_.replica->train_batch(batch->view(), {o.seed, step, nullptr}, scale, ready);
    s_.exchange->after_step(*s_.replica, step, schedule_.at(step));
    const double dt = now_seconds() - t0;
    const int64_t images = s_.count_global_rows ? batch->global_rows : batch->real_rows;
    metrics.add_step(images, dt);
    log.add(stats.loss_sum, batch->real_rows, images, dt);
    summary.add(stats.loss_sum, batch->real_rows, images, dt);

    const int64_t done = step + 1;
    const bool last = done == total_steps_;
    if (s_.chief && (done % o.log_every == 0 || last)) {
      const double eta = log.rate() > 0 ? static_cast<double>(total_steps_ - done) *
                                              static_cast<double>(images) / log.rate()
                                        : 0;
      std::printf("step %6lld/%lld  epoch %5.2f  loss %.4f  lr %.2e  %7.0f img/s  eta %s\n",
                  static_cast<long long>(done), static_cast<long long>(total_steps_),
                  epoch_of(done), log.mean_loss(), static_cast<double>(schedule_.at(step)),
                  log.rate(), duration_string(eta).c_str());
      std::fflush(stdout);
      log = Window{};
    }
    if (s_.chief && (done % o.summary_steps == 0 || last) && (s_.summaries || s_.csv)) {
      write_summaries(done, summary.mean_loss(), summary.rate());
      summary = Window{};
    }
    maybe_evaluate(step, last, metrics);

    // Checkpoints: on schedule, on a scheduler's signal, and when stopping. In sync mode the
    // ranks agree on signals first, so that all of them stop at the same step.
    const int requests = s_.exchange->agree(take_signal_requests());
    bool checkpoint = (requests & kCheckpointRequest) != 0;
    checkpoint |= o.checkpoint_steps > 0 && done % o.checkpoint_steps == 0;
    checkpoint |=
        o.checkpoint_secs > 0 && now_seconds() - last_checkpoint_time_ >= o.checkpoint_secs;
    checkpoint |= last;
    if (checkpoint && s_.chief && s_.save_checkpoint) {
      s_.save_checkpoint(done, epoch_of(done));
      last_checkpoint_time_ = now_seconds();
    }
    if (requests & kStopRequest) {
      stopped_ = true;
      if (s_.chief) {
        std::printf("stopping after step %lld on a termination signal%s\n",
                    static_cast<long long>(done),
                    s_.save_checkpoint ? " (checkpoint written; run again to resume)" : "");
        std::fflush(stdout);
      }
      ++step;
      break;
    }
  }
  metrics.extra["start_step"] = s_.start_step;
  metrics.extra["last_step"] = std::min(step, total_steps_);
  metrics.extra["data_wait_seconds"] = stream.wait_seconds();
  metrics.extra["data_wait_fraction"] =
      metrics.train_seconds() > 0 ? stream.wait_seconds() / metrics.train_seconds() : 0.0;
  metrics.extra["skipped_records"] = s_.train_data->skipped_records();
  return metrics;
}

}  // namespace dtrain::train
