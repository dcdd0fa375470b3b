#include "dtrain/data/batch_stream.h"

#include <algorithm>

#include "data/row_schedule.h"
#include "dtrain/util/error.h"
#include "util/clock.h"
#include "util/timeline.h"

namespace dtrain::data {

BatchStream::BatchStream(std::shared_ptr<ExampleSource> source, ShardPlan plan, Options options)
    : source_(std::move(source)), plan_(std::move(plan)), options_(options) {
  if (options_.prefetch < 1) throw OptionError("--prefetch must be >= 1");
  thread_ = std::thread([this] { run(); });
}

BatchStream::~BatchStream() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::vector<int64_t> BatchStream::scheduled_ids(int64_t epoch, int64_t step, int64_t global_rows,
                                                const std::vector<int64_t>& order) const {
  // kGlobal has the same number of steps in every epoch.
  const int64_t global_step = epoch * plan_.steps_in_epoch(epoch) + step;
  const auto [offset, n] =
      options_.rows->offset_and_rows(global_step, options_.worker, global_rows);
  const auto begin = order.begin() + step * plan_.config().global_batch + offset;
  return {begin, begin + n};
}

std::shared_ptr<Batch> BatchStream::read_batch(int64_t epoch, int64_t step, int64_t rows,
                                               int64_t global_rows,
                                               const std::vector<int64_t>& ids) {
  auto b = std::make_shared<Batch>();
  const int64_t px = source_->image_shape().size();
  b->epoch = epoch;
  b->step = step;
  b->rows = std::max<int64_t>({rows, static_cast<int64_t>(ids.size()), 1});
  b->real_rows = static_cast<int64_t>(ids.size());
  b->global_rows = global_rows;
  b->images = AlignedBuffer(static_cast<std::size_t>(b->rows * px));
  b->labels.assign(static_cast<std::size_t>(b->rows), 0);
  b->ids.assign(static_cast<std::size_t>(b->rows), -1);
  std::copy(ids.begin(), ids.end(), b->ids.begin());
  if (!ids.empty()) {
    const auto skipped = source_->read(ids, b->images.data(), b->labels.data());
    b->real_rows =
        drop_rows(skipped, b->real_rows, px, b->images.data(), b->labels.data(), b->ids.data());
  }
  for (int64_t i = 0; i < b->real_rows; ++i) {
    const int32_t y = b->labels[static_cast<std::size_t>(i)];
    if ((y < 0 && !(options_.allow_unlabelled && y == -1)) || y >= options_.num_classes) {
      throw DataError(source_->describe() + ": example " +
                      std::to_string(b->ids[static_cast<std::size_t>(i)]) + " has label " +
                      std::to_string(y) + ", outside [0, " + std::to_string(options_.num_classes) +
                      ")");
    }
  }
  return b;
}

void BatchStream::run() {
  timeline::name_this_thread("data reader");
  try {
    if (options_.requested)
      read_requests();
    else
      read_epochs();
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
  }
  std::lock_guard lock(mu_);
  done_ = true;
  cv_.notify_all();
}

bool BatchStream::hand_over(std::shared_ptr<Batch> batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
  if (stop_) return false;
  ready_.push_back(std::move(batch));
  cv_.notify_all();
  return true;
}

void BatchStream::request(Chunk chunk) {
  std::lock_guard lock(mu_);
  requests_.push_back(chunk);
  cv_.notify_all();
}

void BatchStream::read_requests() {
  // One epoch's reads at a time: chunks come in order, so epochs only move forward.
  int64_t epoch = -1;
  std::vector<std::vector<std::vector<int64_t>>> slices;  // [worker][step] ids
  std::vector<int64_t> rows;                              // global rows of each step
  for (;;) {
    Chunk c;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !requests_.empty(); });
      if (stop_) return;
      c = requests_.front();
      requests_.pop_front();
    }
    if (c.epoch != epoch) {
      epoch = c.epoch;
      slices.clear();
      for (int w = 0; w < plan_.config().workers; ++w)
        slices.push_back(plan_.worker_steps(epoch, w));
      rows = plan_.global_rows(epoch);
    }
    std::shared_ptr<Batch> batch;
    {
      TimelineSpan span("read batch", "data");
      const auto s = static_cast<std::size_t>(c.step);
      batch = read_batch(epoch, c.step, plan_.worker_batch(c.worker), rows.at(s),
                         slices.at(static_cast<std::size_t>(c.worker)).at(s));
    }
    if (!hand_over(std::move(batch))) return;
  }
}

void BatchStream::read_epochs() {
  for (int64_t epoch = options_.start_epoch;
       options_.epochs < 0 || epoch < options_.start_epoch + options_.epochs; ++epoch) {
    // A schedule: each step's ids when it is read (the split may change meanwhile).
    const bool scheduled = options_.rows && plan_.config().policy == ShardPolicy::kGlobal;
    const auto steps = scheduled ? std::vector<std::vector<int64_t>>{}
                                 : plan_.worker_steps(epoch, options_.worker);
    const auto order = scheduled ? plan_.epoch_order(epoch) : std::vector<int64_t>{};
    const auto rows = plan_.global_rows(epoch);  // one per step of the epoch
    const int64_t first = epoch == options_.start_epoch ? options_.start_step : 0;
    for (int64_t s = first; s < static_cast<int64_t>(rows.size()); ++s) {
      std::shared_ptr<Batch> batch;
      {
        TimelineSpan span("read batch", "data");
        const int64_t global = rows[static_cast<std::size_t>(s)];
        batch = scheduled ? read_batch(epoch, s, 1, global, scheduled_ids(epoch, s, global, order))
                          : read_batch(epoch, s, plan_.worker_batch(options_.worker), global,
                                       steps[static_cast<std::size_t>(s)]);
      }
      if (!hand_over(std::move(batch))) return;
    }
  }
}

std::shared_ptr<const Batch> BatchStream::next() {
  const double t0 = now_seconds();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty() || done_; });
  wait_seconds_ += now_seconds() - t0;
  if (!ready_.empty()) {
    auto b = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return b;
  }
  if (error_) std::rethrow_exception(error_);
  return nullptr;
}

}  // namespace dtrain::data
