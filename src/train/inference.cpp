#include "train/inference.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "comm/consensus.h"
#include "comm/watchdog.h"
#include "data/memory_source.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "dtrain/nn/replica.h"
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/model_file.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"
#include "train/job_context.h"
#include "util/atomic_file.h"
#include "util/clock.h"
#include "util/mpi_call.h"

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

namespace {

// Everything inference needs before it reads: checked on every rank, agreed on by all.
struct InferenceSetup {
  std::unique_ptr<nn::Model> model;
  std::vector<float> params;
  std::shared_ptr<data::ExampleSource> source;
  Fields fields;
  nn::Precision precision = nn::Precision::kFp32;
};

InferenceSetup prepare_inference(const TrainOptions& o, comm::Watchdog& watchdog) {
  InferenceSetup s;
  std::optional<std::string> error;
  try {
    s.fields = parse_mapping(o.output.output_mapping);
    s.precision = nn::resolve_precision(o.model.precision);
    // The model's input is what it was trained on; the data must hold that shape.
    const data::ImageShape in = read_input_shape(o.model_path);
    s.model = std::make_unique<nn::Model>(nn::ModelSpec::parse(read_model_spec(o.model_path)),
                                          nn::Shape{in.c, in.h, in.w}, o.data.num_classes);
    s.params = read_model_params(o.model_path, *s.model);
    s.source = open_data(o, o.data.test_data, "t10k", /*labels_optional=*/true);
    if (!(s.source->image_shape() == in)) {
      throw DataError(s.source->describe() + " holds " + s.source->image_shape().str() +
                      " images but the model " + o.model_path + " takes " + in.str());
    }
    std::filesystem::create_directories(o.output.output_dir);
  } catch (const std::exception& e) {
    error = e.what();
  }
  comm::Watchdog::Scope guard(&watchdog, "the start-up checks of every rank");
  if (auto first = comm::first_error(error, MPI_COMM_WORLD)) throw StartupError(*first);
  return s;
}

// Counts over this rank's examples.
struct Tally {
  int64_t examples = 0, labelled = 0, correct = 0;
};

void write_header(std::ostream& out, const Fields& fields, int classes, int64_t width) {
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

// Runs the model over the stream and writes one line per example.
Tally predict(data::BatchStream& stream, nn::Replica& replica, const Fields& fields, bool csv,
              std::ostream& out) {
  const nn::Model& model = replica.model();
  const int classes = model.num_classes();
  const int64_t width = model.output_width(model.feature_layer());
  if (csv) write_header(out, fields, classes, width);
  std::vector<float> probs, features;
  Tally t;
  while (auto b = stream.next()) {
    probs.resize(static_cast<std::size_t>(b->rows * classes));
    features.resize(fields.features ? static_cast<std::size_t>(b->rows * width) : 0);
    replica.eval_batch({b->images.data(), nullptr, nullptr, b->rows, b->real_rows}, probs.data(),
                       fields.features ? features.data() : nullptr);
    for (int64_t r = 0; r < b->real_rows; ++r) {
      const float* p = probs.data() + r * classes;
      const int pred = static_cast<int>(std::max_element(p, p + classes) - p);
      const int32_t label = b->labels[static_cast<std::size_t>(r)];
      ++t.examples;
      if (label >= 0) {
        ++t.labelled;
        t.correct += pred == label;
      }
      write_row(out, fields, csv, b->ids[static_cast<std::size_t>(r)], label, pred, p, classes,
                fields.features ? features.data() + r * width : nullptr, width);
    }
  }
  return t;
}

data::BatchStream this_ranks_part(const TrainOptions& o, const comm::MpiEnv& mpi,
                                  std::shared_ptr<data::ExampleSource> source) {
  // Each rank reads its own part: whole files when there are enough, record ranges otherwise.
  data::ShardConfig cfg;
  cfg.policy = data::ShardPolicy::kFiles;
  cfg.workers = mpi.size();
  cfg.global_batch = o.training.eval_batch_size * mpi.size();
  cfg.shuffle = false;
  data::BatchStream::Options so;
  so.worker = mpi.rank();
  so.epochs = 1;
  so.prefetch = o.data.prefetch;
  so.num_classes = o.data.num_classes;
  so.allow_unlabelled = true;
  const auto units = source->unit_sizes();
  return data::BatchStream(std::move(source), data::ShardPlan(units, cfg), so);
}

}  // namespace

int run_inference(const TrainOptions& o, const comm::MpiEnv& mpi) {
  use_compute_threads(compute_threads(o.dist.threads, mpi.local_size()));
  const double t0 = now_seconds();
  comm::Watchdog watchdog(o.dist.stall, mpi.rank());
  const InferenceSetup setup = prepare_inference(o, watchdog);
  nn::Replica replica(*setup.model, nullptr, setup.precision);
  std::copy(setup.params.begin(), setup.params.end(), replica.params().data());
  data::BatchStream stream = this_ranks_part(o, mpi, setup.source);
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d", mpi.rank());
  const auto path = (std::filesystem::path(o.output.output_dir) / name).string();
  Tally mine;
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    if (!out) throw Error("cannot write " + tmp);
    out.precision(6);
    mine =
        predict(stream, replica, setup.fields, o.output.output_format == OutputFormat::kCsv, out);
    out.close();
    if (!out) throw Error("error writing " + tmp);
  });
  int64_t counts[3] = {mine.examples, mine.labelled, mine.correct}, total[3] = {0, 0, 0};
  comm::Watchdog::Scope guard(&watchdog, "summing the predictions of every rank");
  mpi_call("MPI_Reduce (inference counts)", MPI_Reduce, counts, total, 3, MPI_INT64_T, MPI_SUM, 0,
           MPI_COMM_WORLD);
  if (mpi.rank() != 0) return 0;
  std::printf("inference: %lld examples on %d rank(s) in %.1fs, predictions in %s/part-*\n",
              static_cast<long long>(total[0]), mpi.size(), now_seconds() - t0,
              o.output.output_dir.c_str());
  if (total[1] > 0) {
    std::printf("accuracy %.2f%% (%lld of %lld labelled examples)\n",
                100.0 * static_cast<double>(total[2]) / static_cast<double>(total[1]),
                static_cast<long long>(total[2]), static_cast<long long>(total[1]));
  }
  std::fflush(stdout);
  return 0;
}

int run_export(const TrainOptions& o, const comm::MpiEnv& mpi) {
  if (mpi.rank() != 0) return 0;
  const data::ImageShape in = read_input_shape(o.model_path);
  const nn::Model model(nn::ModelSpec::parse(read_model_spec(o.model_path)),
                        nn::Shape{in.c, in.h, in.w}, o.data.num_classes);
  const auto state = read_checkpoint(o.model_path, model.layout());
  save_model(o.output.export_path, model, state.params.data(), state.global_step, 0.0);
  std::printf("exported %s (step %lld) to %s\n", o.model_path.c_str(),
              static_cast<long long>(state.global_step), o.output.export_path.c_str());
  return 0;
}

}  // namespace dtrain::train
