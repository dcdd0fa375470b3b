// RunMetrics: what a training run measured, written as JSON by --metrics-json and printed as a
// summary at the end. Throughput is the steady state: the first warm-up steps (primitive
// creation, page faults) and the time spent evaluating are left out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <cstdio>

#include <nlohmann/json_fwd.hpp>

namespace dtrain::train {

struct AccuracyPoint {
  int64_t step = 0;
  double epoch = 0;
  double train_seconds = 0;
  double test_accuracy = 0;
  double test_loss = 0;
};

class RunMetrics {
 public:
  explicit RunMetrics(int64_t warmup_steps) : warmup_steps_(warmup_steps) {}

  // One training step of `images` examples that took `seconds` (evaluation excluded).
  void add_step(int64_t images, double seconds);
  void add_eval(const AccuracyPoint& p);

  double train_seconds() const { return train_seconds_; }
  int64_t steps() const { return steps_; }
  int64_t images() const { return images_; }
  // Images per second after the warm-up steps.
  double steady_images_per_sec() const;
  // Training seconds at the first evaluation reaching `accuracy`, if any did.
  std::optional<double> time_to(double accuracy) const;
  const std::vector<AccuracyPoint>& curve() const { return curve_; }

  // The measured fields as JSON, for --metrics-json.
  nlohmann::json to_json() const;

 private:
  int64_t warmup_steps_;
  int64_t steps_ = 0, images_ = 0, steady_images_ = 0;
  double train_seconds_ = 0, steady_seconds_ = 0;
  std::vector<AccuracyPoint> curve_;
};

// --metrics-csv: one row per summary step (test columns filled where an evaluation happened).
class MetricsCsv {
 public:
  explicit MetricsCsv(const std::string& path, bool append);
  ~MetricsCsv();
  void row(int64_t step, double epoch, std::optional<double> loss, double lr,
           std::optional<double> images_per_sec, std::optional<double> test_accuracy,
           std::optional<double> test_loss, std::optional<double> staleness);

 private:
  std::FILE* f_ = nullptr;
};

// Writes JSON atomically (temporary file + rename) so a reader never sees half a file.
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace dtrain::train
