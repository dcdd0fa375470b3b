// TensorBoard summaries: an events.out.tfevents.<time>.<host> file of TFRecord-framed Event
// protos (first a file_version record, then one Event per summary) in --log-dir. Scalars and
// histograms; flushed after every step's summaries so TensorBoard follows a running job.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "data/tfrecord.h"

namespace dtrain::train {

class SummaryWriter {
 public:
  explicit SummaryWriter(const std::string& log_dir);
  const std::string& path() const { return path_; }
  void scalar(const std::string& tag, int64_t step, double value);
  // A histogram with TensorFlow's default bucket edges (exponential, +-1e-12 .. 1e20).
  void histogram(const std::string& tag, int64_t step, std::span<const float> values);
  void flush();

 private:
  std::string path_;
  std::unique_ptr<data::TFRecordWriter> writer_;
};

}  // namespace dtrain::train
