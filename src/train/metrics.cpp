#include "dtrain/train/metrics.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dtrain/util/error.h"
#include "util/atomic_file.h"

namespace dtrain::train {

void RunMetrics::add_step(int64_t images, double seconds) {
  ++steps_;
  images_ += images;
  train_seconds_ += seconds;
  if (steps_ > warmup_steps_) {
    steady_images_ += images;
    steady_seconds_ += seconds;
  }
}

void RunMetrics::add_eval(const AccuracyPoint& p) {
  curve_.push_back(p);
}

double RunMetrics::steady_images_per_sec() const {
  if (steady_seconds_ > 0) return static_cast<double>(steady_images_) / steady_seconds_;
  return train_seconds_ > 0 ? static_cast<double>(images_) / train_seconds_ : 0.0;
}

std::optional<double> RunMetrics::time_to(double accuracy) const {
  for (const auto& p : curve_) {
    if (p.test_accuracy >= accuracy) return p.train_seconds;
  }
  return std::nullopt;
}

nlohmann::json RunMetrics::to_json() const {
  nlohmann::json j;
  j["steps"] = steps_;
  j["train_images"] = images_;
  j["train_seconds"] = train_seconds_;
  j["train_images_per_sec"] = steady_images_per_sec();
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : curve_) {
    curve.push_back({{"step", p.step},
                     {"epoch", p.epoch},
                     {"train_seconds", p.train_seconds},
                     {"test_accuracy", p.test_accuracy},
                     {"test_loss", p.test_loss}});
  }
  j["accuracy_curve"] = curve;
  nlohmann::json tta = nlohmann::json::object();
  for (double target : {0.98, 0.99, 0.992}) {
    char name[16];
    std::snprintf(name, sizeof name, "%.3f", target);
    const auto t = time_to(target);
    tta[name] = t ? nlohmann::json(*t) : nlohmann::json(nullptr);
  }
  j["time_to_accuracy_seconds"] = tta;
  return j;
}

MetricsCsv::MetricsCsv(const std::string& path, bool append) {
  const bool fresh = !append || !std::filesystem::exists(path);
  f_ = std::fopen(path.c_str(), fresh ? "w" : "a");
  if (!f_) throw Error("--metrics-csv: cannot write " + path);
  if (fresh)
    std::fprintf(
        f_, "step,epoch,loss,learning_rate,images_per_sec,test_accuracy,test_loss,staleness\n");
  std::fflush(f_);
}

MetricsCsv::~MetricsCsv() {
  if (f_) std::fclose(f_);
}

void MetricsCsv::row(int64_t step, double epoch, std::optional<double> loss, double lr,
                     std::optional<double> images_per_sec, std::optional<double> test_accuracy,
                     std::optional<double> test_loss, std::optional<double> staleness) {
  auto opt = [](std::optional<double> v) { return v ? std::to_string(*v) : std::string(); };
  std::fprintf(f_, "%lld,%.4f,%s,%.6g,%s,%s,%s,%s\n", static_cast<long long>(step), epoch,
               opt(loss).c_str(), lr, opt(images_per_sec).c_str(), opt(test_accuracy).c_str(),
               opt(test_loss).c_str(), opt(staleness).c_str());
  std::fflush(f_);
}

void write_json_file(const std::string& path, const nlohmann::json& j) {
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    if (!out) throw Error("cannot write " + tmp);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) throw Error("error writing " + tmp);
  });
}

}  // namespace dtrain::train
