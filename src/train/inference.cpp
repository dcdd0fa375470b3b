#include "dtrain/train/inference.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "dtrain/data/memory_source.h"
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/job.h"
#include "dtrain/train/model_file.h"
#include "dtrain/util/atomic_file.h"
#include "dtrain/util/clock.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"

namespace dtrain::train {

namespace {

struct Fields {
  bool id = false, label = false, prediction = false, probabilities = false, features = false;
};

Fields parse_mapping(const std::string& spec) {
  Fields f;
  std::stringstream in(spec);
  for (std::string x; std::getline(in, x, ',');) {
    if (x == "id")
      f.id = true;
    else if (x == "label")
      f.label = true;
    else if (x == "prediction")
      f.prediction = true;
    else if (x == "probabilities")
      f.probabilities = true;
    else if (x == "features")
      f.features = true;
    else
      throw OptionError("--output-mapping: unknown field '" + x +
                        "' (expected id, label, prediction, probabilities, features)");
  }
  return f;
}

// One line of output for row r.
void write_row(std::ostream& out, const Fields& f, bool csv, int64_t id, int32_t label,
               int prediction, const float* probs, int classes, const float* features,
               int64_t width) {
  auto floats = [&](const float* v, int64_t n, const char* sep) {
    for (int64_t i = 0; i < n; ++i) out << (i ? sep : "") << v[i];
  };
  if (csv) {
    bool first = true;
    auto field = [&]() -> std::ostream& {
      if (!first) out << ',';
      first = false;
      return out;
    };
    if (f.id) field() << id;
    if (f.label) field() << label;
    if (f.prediction) field() << prediction;
    if (f.probabilities) {
      field();
      floats(probs, classes, ",");
    }
    if (f.features) {
      field();
      floats(features, width, ",");
    }
    out << '\n';
    return;
  }
  out << '{';
  bool first = true;
  auto key = [&](const char* k) -> std::ostream& {
    out << (first ? "" : ", ") << '"' << k << "\": ";
    first = false;
    return out;
  };
  if (f.id) key("id") << id;
  if (f.label) {
    if (label >= 0)
      key("label") << label;
    else
      key("label") << "null";
  }
  if (f.prediction) key("prediction") << prediction;
  if (f.probabilities) {
    key("probabilities") << '[';
    floats(probs, classes, ", ");
    out << ']';
  }
  if (f.features) {
    key("features") << '[';
    floats(features, width, ", ");
    out << ']';
  }
  out << "}\n";
}

}  // namespace

int run_inference(const TrainOptions& o, const comm::MpiEnv& mpi) {
  if (o.model_path.empty())
    throw OptionError("--mode inference needs --model FILE (an export or a checkpoint)");
  if (o.output_dir.empty()) throw OptionError("--mode inference needs --output DIR");
  const Fields fields = parse_mapping(o.output_mapping);
  const bool csv = o.output_format == "csv";
  use_compute_threads(compute_threads(o.threads, mpi.local_size()));
  const double t0 = now_seconds();
  const nn::Model model(nn::ModelSpec::parse(read_model_spec(o.model_path)), nn::Shape{1, 28, 28},
                        o.num_classes);
  nn::Replica replica(model);
  const auto params = read_model_params(o.model_path, model);
  std::copy(params.begin(), params.end(), replica.params().data());
  auto source = open_data(o, o.test_data, "t10k", MPI_COMM_SELF, false, /*labels_optional=*/true);

  // Each rank reads its own part: whole files when there are enough, record ranges otherwise.
  data::ShardConfig cfg;
  cfg.policy = data::ShardPolicy::kFiles;
  cfg.workers = mpi.size();
  cfg.global_batch = o.eval_batch_size * mpi.size();
  cfg.shuffle = false;
  data::BatchStream::Options so;
  so.worker = mpi.rank();
  so.epochs = 1;
  so.prefetch = o.prefetch;
  so.num_classes = o.num_classes;
  so.allow_unlabelled = true;
  data::BatchStream stream(source, data::ShardPlan(source->unit_sizes(), cfg), so);

  std::filesystem::create_directories(o.output_dir);
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d", mpi.rank());
  const auto path = (std::filesystem::path(o.output_dir) / name).string();
  std::ofstream out(staging_path(path));
  if (!out) throw Error("cannot write " + path);
  out.precision(6);
  const int classes = model.num_classes();
  const int64_t width = model.layers()[model.feature_layer()]->out_shape().size();
  if (csv) {
    std::string header;
    auto col = [&](const std::string& c) { header += (header.empty() ? "" : ",") + c; };
    if (fields.id) col("id");
    if (fields.label) col("label");
    if (fields.prediction) col("prediction");
    if (fields.probabilities)
      for (int c = 0; c < classes; ++c) col("prob_" + std::to_string(c));
    if (fields.features)
      for (int64_t i = 0; i < width; ++i) col("feature_" + std::to_string(i));
    out << header << '\n';
  }
  std::vector<float> probs, features;
  int64_t counts[3] = {0, 0, 0};  // examples, labelled, correct
  while (auto b = stream.next()) {
    probs.resize(static_cast<std::size_t>(b->rows * classes));
    features.resize(fields.features ? static_cast<std::size_t>(b->rows * width) : 0);
    replica.eval_batch({b->images.data(), nullptr, nullptr, b->rows, b->real_rows}, probs.data(),
                       fields.features ? features.data() : nullptr);
    for (int64_t r = 0; r < b->real_rows; ++r) {
      const float* p = probs.data() + r * classes;
      const int pred = static_cast<int>(std::max_element(p, p + classes) - p);
      const int32_t label = b->labels[static_cast<std::size_t>(r)];
      ++counts[0];
      if (label >= 0) {
        ++counts[1];
        counts[2] += pred == label;
      }
      write_row(out, fields, csv, b->ids[static_cast<std::size_t>(r)], label, pred, p, classes,
                fields.features ? features.data() + r * width : nullptr, width);
    }
  }
  out.close();
  if (!out) throw Error("error writing " + path);
  publish_file(path);
  int64_t total[3] = {0, 0, 0};
  MPI_Reduce(counts, total, 3, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  if (mpi.rank() == 0) {
    std::printf("inference: %lld examples on %d rank(s) in %.1fs, predictions in %s/part-*\n",
                static_cast<long long>(total[0]), mpi.size(), now_seconds() - t0,
                o.output_dir.c_str());
    if (total[1] > 0) {
      std::printf("accuracy %.2f%% (%lld of %lld labelled examples)\n",
                  100.0 * static_cast<double>(total[2]) / static_cast<double>(total[1]),
                  static_cast<long long>(total[2]), static_cast<long long>(total[1]));
    }
    std::fflush(stdout);
  }
  return 0;
}

int run_export(const TrainOptions& o, const comm::MpiEnv& mpi) {
  if (o.model_path.empty() || o.export_path.empty()) {
    throw OptionError("--mode export needs --model CHECKPOINT and --export FILE");
  }
  if (mpi.rank() != 0) return 0;
  const nn::Model model(nn::ModelSpec::parse(read_model_spec(o.model_path)), nn::Shape{1, 28, 28},
                        o.num_classes);
  const auto state = read_checkpoint(o.model_path, model.layout());
  write_model_file(o.export_path, model, state.params.data(), state.global_step, 0.0);
  std::printf("exported %s (step %lld) to %s\n", o.model_path.c_str(),
              static_cast<long long>(state.global_step), o.export_path.c_str());
  return 0;
}

}  // namespace dtrain::train
