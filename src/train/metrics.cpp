#include "dtrain/train/metrics.h"

#include <cstdio>
#include <fstream>

#include "dtrain/util/error.h"

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

void RunMetrics::add_eval(const AccuracyPoint& p) { curve_.push_back(p); }

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
  nlohmann::json j = extra;
  j["steps"] = steps_;
  j["train_images"] = images_;
  j["train_seconds"] = train_seconds_;
  j["train_images_per_sec"] = steady_images_per_sec();
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : curve_) {
    curve.push_back({{"step", p.step}, {"epoch", p.epoch}, {"train_seconds", p.train_seconds},
                     {"test_accuracy", p.test_accuracy}, {"test_loss", p.test_loss}});
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

void write_json_file(const std::string& path, const nlohmann::json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw Error("cannot write " + tmp);
    out << j.dump(2) << "\n";
    if (!out) throw Error("error writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error("cannot rename " + tmp + " to " + path);
}

}  // namespace dtrain::train
