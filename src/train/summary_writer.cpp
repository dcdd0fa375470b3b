#include "train/summary_writer.h"

#include <unistd.h>

#include <cfloat>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <vector>

#include "event.pb.h"

namespace dtrain::train {

namespace {

double wall_time() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// TensorFlow's default histogram bucket limits: +-1e-12 growing by 10% to +-1e20, and 0.
const std::vector<double>& default_limits() {
  static const std::vector<double> limits = [] {
    std::vector<double> pos, neg;
    for (double v = 1e-12; v < 1e20; v *= 1.1) {
      pos.push_back(v);
      neg.push_back(-v);
    }
    pos.push_back(DBL_MAX);
    neg.push_back(-DBL_MAX);
    std::vector<double> all(neg.rbegin(), neg.rend());
    all.push_back(0.0);
    all.insert(all.end(), pos.begin(), pos.end());
    return all;
  }();
  return limits;
}

}  // namespace

SummaryWriter::SummaryWriter(const std::string& log_dir) {
  std::filesystem::create_directories(log_dir);
  char host[128] = {};
  gethostname(host, sizeof host - 1);
  path_ =
      (std::filesystem::path(log_dir) /
       ("events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time())) + "." + host))
          .string();
  writer_ = std::make_unique<data::TFRecordWriter>(path_, false);
  tensorflow::Event e;
  e.set_wall_time(wall_time());
  e.set_file_version("brain.Event:2");
  writer_->write(e.SerializeAsString());
  writer_->flush();
}

void SummaryWriter::scalar(const std::string& tag, int64_t step, double value) {
  tensorflow::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  writer_->write(e.SerializeAsString());
}

void SummaryWriter::histogram(const std::string& tag, int64_t step, std::span<const float> values) {
  const auto& limits = default_limits();
  std::vector<double> counts(limits.size(), 0.0);
  double lo = INFINITY, hi = -INFINITY, sum = 0, sum_sq = 0;
  for (float f : values) {
    const double x = f;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
    sum_sq += x * x;
    const auto it = std::upper_bound(limits.begin(), limits.end(), x);
    counts[static_cast<std::size_t>(std::min<std::ptrdiff_t>(
        it - limits.begin(), static_cast<std::ptrdiff_t>(limits.size()) - 1))] += 1;
  }
  tensorflow::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* h = v->mutable_histo();
  h->set_min(values.empty() ? 0 : lo);
  h->set_max(values.empty() ? 0 : hi);
  h->set_num(static_cast<double>(values.size()));
  h->set_sum(sum);
  h->set_sum_squares(sum_sq);
  // Only non-empty buckets, each with the empty one before it (which carries its left edge).
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const bool keep = counts[i] > 0 || (i + 1 < counts.size() && counts[i + 1] > 0);
    if (!keep) continue;
    h->add_bucket_limit(limits[i]);
    h->add_bucket(counts[i]);
  }
  writer_->write(e.SerializeAsString());
}

void SummaryWriter::flush() {
  writer_->flush();
}

}  // namespace dtrain::train
