#include "dtrain/data/batch_stream.h"

#include <algorithm>

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

std::shared_ptr<Batch> BatchStream::read_batch(int64_t epoch, int64_t step, int64_t global_rows,
                                               const std::vector<int64_t>& ids) {
  auto b = std::make_shared<Batch>();
  const int64_t px = source_->image_shape().size();
  b->epoch = epoch;
  b->step = step;
  b->rows = plan_.worker_batch(options_.worker);
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
    for (int64_t epoch = options_.start_epoch;
         options_.epochs < 0 || epoch < options_.start_epoch + options_.epochs; ++epoch) {
      const auto steps = plan_.worker_steps(epoch, options_.worker);
      const auto rows = plan_.global_rows(epoch);
      const int64_t first = epoch == options_.start_epoch ? options_.start_step : 0;
      for (int64_t s = first; s < static_cast<int64_t>(steps.size()); ++s) {
        std::shared_ptr<Batch> batch;
        {
          TimelineSpan span("read batch", "data");
          batch = read_batch(epoch, s, rows[static_cast<std::size_t>(s)],
                             steps[static_cast<std::size_t>(s)]);
        }
        std::unique_lock lock(mu_);
        cv_.wait(lock,
                 [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
        if (stop_) return;
        ready_.push_back(std::move(batch));
        cv_.notify_all();
      }
    }
  } catch (...) {
    std::lock_guard lock(mu_);
    error_ = std::current_exception();
  }
  std::lock_guard lock(mu_);
  done_ = true;
  cv_.notify_all();
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
