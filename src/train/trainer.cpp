#include "dtrain/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dtrain/train/evaluator.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/error.h"

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
}

double Trainer::epoch_of(int64_t step) const {
  auto it = std::upper_bound(epoch_starts_.begin(), epoch_starts_.end(), step);
  const auto e = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, it - epoch_starts_.begin() - 1));
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
  if (s_.chief) {
    std::printf("eval   step %6lld epoch %5.2f  test accuracy %.2f%%  test loss %.4f  "
                "(%lld images in %.2fs, trained %.1fs)\n",
                static_cast<long long>(done), p.epoch, 100.0 * r.accuracy(), r.loss(),
                static_cast<long long>(r.examples), r.seconds, metrics.train_seconds());
    std::fflush(stdout);
  }
}

RunMetrics Trainer::run() {
  const auto& o = *s_.options;
  RunMetrics metrics(std::min<int64_t>(20, total_steps_ / 10));
  data::BatchStream::Options so;
  so.worker = s_.worker;
  so.epochs = -1;
  so.prefetch = o.prefetch;
  so.num_classes = o.num_classes;
  data::BatchStream stream(s_.train_data, plan_, so);
  auto ready = [this](nn::ParamRange r) { s_.exchange->gradients_ready(r); };

  double window_loss = 0, window_time = 0;
  int64_t window_rows = 0, window_images = 0;
  for (int64_t step = 0; step < total_steps_; ++step) {
    const double t0 = now_seconds();
    const auto batch = stream.next();
    if (!batch) throw Error("the training data ran out before step " + std::to_string(step));
    s_.exchange->before_step(*s_.replica, step);
    // The mean over the batch this step's gradient stands for: the global batch when ranks sum
    // their gradients (sync), this worker's own rows when each push stands alone (async).
    const int64_t denominator = s_.count_global_rows ? batch->global_rows : batch->real_rows;
    const float scale = denominator > 0 ? 1.0f / static_cast<float>(denominator) : 0.f;
    const auto stats = s_.replica->train_batch(batch->view(), {o.seed, step, nullptr}, scale, ready);
    s_.exchange->after_step(*s_.replica, step, schedule_.at(step));
    const double dt = now_seconds() - t0;
    const int64_t images = s_.count_global_rows ? batch->global_rows : batch->real_rows;
    metrics.add_step(images, dt);
    window_loss += stats.loss_sum;
    window_rows += batch->real_rows;
    window_images += images;
    window_time += dt;

    const bool last = step + 1 == total_steps_;
    if (s_.chief && ((step + 1) % o.log_every == 0 || last)) {
      const double rate = window_time > 0 ? static_cast<double>(window_images) / window_time : 0;
      const double eta = rate > 0 ? static_cast<double>(total_steps_ - step - 1) *
                                        (window_time / static_cast<double>(window_images)) *
                                        static_cast<double>(std::max<int64_t>(1, images))
                                  : 0;
      std::printf("step %6lld/%lld  epoch %5.2f  loss %.4f  lr %.2e  %7.0f img/s  eta %s\n",
                  static_cast<long long>(step + 1), static_cast<long long>(total_steps_),
                  epoch_of(step + 1), window_rows ? window_loss / static_cast<double>(window_rows) : 0.0,
                  static_cast<double>(schedule_.at(step)), rate, duration_string(eta).c_str());
      std::fflush(stdout);
      window_loss = window_time = 0;
      window_rows = window_images = 0;
    }
    maybe_evaluate(step, last, metrics);
  }
  metrics.extra["data_wait_seconds"] = stream.wait_seconds();
  metrics.extra["data_wait_fraction"] = metrics.train_seconds() > 0 ? stream.wait_seconds() / metrics.train_seconds() : 0.0;
  metrics.extra["skipped_records"] = s_.train_data->skipped_records();
  metrics.extra["epochs"] = epoch_of(total_steps_);
  return metrics;
}

}  // namespace dtrain::train
