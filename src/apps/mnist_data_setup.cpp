// mnist_data_setup: converts the MNIST IDX files into sharded HDF5, TFRecord or CSV data sets
// (DIR/train/part-NNNNN.*, DIR/test/part-NNNNN.*), checks what it wrote (--verify), and
// inspects any data set the trainer can read (--read --input PATH [--json]).
// Under mpirun, rank r writes partitions r, r + N, r + 2N, ...
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "data/memory_source.h"
#include "data/shard_writer.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/dataset.h"
#include "dtrain/train/options.h"
#include "dtrain/util/error.h"
#include "util/mpi_call.h"
#include "util/version.h"

namespace po = boost::program_options;
using namespace dtrain;

namespace {

struct SetupOptions {
  std::string data_dir = "data/mnist", output, layout = "int64", input;
  data::Format format = data::Format::kHdf5, read_format = data::Format::kAuto;
  std::string features;
  int partitions = 10, num_classes = 10, samples = 3;
  bool compress = false, verify = false, verify_only = false, read = false, json = false,
       skip_corrupt = false;
};

// Reads every example of a source in id order (in chunks, to bound memory).
template <typename Fn>
void for_each_example(data::ExampleSource& src, Fn&& fn) {
  const int64_t px = src.image_shape().size(), chunk = 4096;
  std::vector<float> images(static_cast<std::size_t>(chunk * px));
  std::vector<int32_t> labels(static_cast<std::size_t>(chunk));
  std::vector<int64_t> ids;
  for (int64_t b = 0; b < src.size(); b += chunk) {
    const int64_t n = std::min(chunk, src.size() - b);
    ids.resize(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = b + i;
    const auto skipped = src.read(ids, images.data(), labels.data());
    std::vector<bool> bad(static_cast<std::size_t>(n), false);
    for (auto s : skipped) bad[s] = true;
    for (int64_t i = 0; i < n; ++i) {
      if (!bad[static_cast<std::size_t>(i)]) {
        fn(b + i, images.data() + i * px, labels[static_cast<std::size_t>(i)]);
      }
    }
  }
}

void convert_split(const SetupOptions& o, const comm::MpiEnv& mpi, const std::string& prefix,
                   const std::string& split) {
  auto src = data::MemorySource::from_idx_dir(o.data_dir, prefix);
  const auto dir = std::filesystem::path(o.output) / split;
  std::filesystem::create_directories(dir);
  data::ShardFormat f{o.format, data::parse_example_layout(o.layout), o.compress};
  const int64_t n = src->size(), px = src->image_shape().size();
  for (int p = mpi.rank(); p < o.partitions; p += mpi.size()) {
    // Contiguous ranges: shard order keeps the IDX order, so example ids are the same in every
    // format and a run on the shards sees exactly the batches a run on the IDX files sees.
    const int64_t begin = n * p / o.partitions, end = n * (p + 1) / o.partitions;
    const auto path = (dir / data::shard_name(f, p)).string();
    data::write_shard(
        path, f, src->image_shape(),
        {src->pixels().data() + begin * px, static_cast<std::size_t>((end - begin) * px)},
        {src->labels().data() + begin, static_cast<std::size_t>(end - begin)});
    std::printf("[rank %d] wrote %s (%lld examples)\n", mpi.rank(), path.c_str(),
                static_cast<long long>(end - begin));
  }
}

// Reads the written split back and compares it with the IDX source, example by example.
void verify_split(const SetupOptions& o, const std::string& prefix, const std::string& split) {
  auto idx = data::MemorySource::from_idx_dir(o.data_dir, prefix);
  data::DatasetOptions d;
  d.paths = (std::filesystem::path(o.output) / split).string();
  d.format = o.format;
  d.num_classes = o.num_classes;
  d.features =
      data::parse_example_layout(o.layout) == data::ExampleLayout::kBytes ? "image=image_raw" : "";
  auto back = data::open_dataset(d);
  if (back->size() != idx->size()) {
    throw DataError(d.paths + ": holds " + std::to_string(back->size()) +
                    " examples, the IDX source " + std::to_string(idx->size()));
  }
  const int64_t px = idx->image_shape().size();
  int64_t mismatches = 0;
  for_each_example(*back, [&](int64_t id, const float* image, int32_t label) {
    const std::uint8_t* want = idx->pixels().data() + id * px;
    bool same = label == idx->labels()[static_cast<std::size_t>(id)];
    for (int64_t k = 0; k < px && same; ++k) {
      same = static_cast<std::uint8_t>(image[k] * 255.0f + 0.5f) == want[k];
    }
    mismatches += !same;
  });
  if (mismatches)
    throw DataError(d.paths + ": " + std::to_string(mismatches) +
                    " examples differ from the IDX source");
  std::printf("verified %s: %lld examples identical to the IDX source\n", d.paths.c_str(),
              static_cast<long long>(back->size()));
}

std::string ascii_art(const float* image, int64_t h, int64_t w) {
  static const char* shades = " .:-=+*#%@";
  std::string s;
  for (int64_t y = 0; y < h; y += 2) {  // two rows per line: glyphs are about twice as tall
    s += "    ";
    for (int64_t x = 0; x < w; ++x) {
      const float v = std::max(image[y * w + x], y + 1 < h ? image[(y + 1) * w + x] : 0.f);
      s += shades[std::min(9, static_cast<int>(v * 10))];
    }
    s += "\n";
  }
  return s;
}

int inspect(const SetupOptions& o) {
  data::DatasetOptions d;
  d.paths = o.input;
  d.format = o.read_format;
  d.features = o.features;
  d.num_classes = o.num_classes;
  d.skip_corrupt = o.skip_corrupt;
  const auto files = data::expand_paths(o.input);
  const std::string format = data::to_string(
      o.read_format == data::Format::kAuto ? data::detect_format(files) : o.read_format);
  auto src = data::open_dataset(d);
  const auto shape = src->image_shape();
  std::vector<int64_t> histogram(static_cast<std::size_t>(o.num_classes), 0);
  double pixel_sum = 0;
  int64_t count = 0;
  nlohmann::json samples = nlohmann::json::array();
  std::string art;
  for_each_example(*src, [&](int64_t id, const float* image, int32_t label) {
    ++count;
    ++histogram[static_cast<std::size_t>(label)];
    double s = 0;
    for (int64_t k = 0; k < shape.size(); ++k) s += std::round(image[k] * 255.0f);
    pixel_sum += s;
    if (static_cast<int>(samples.size()) < o.samples) {
      samples.push_back({{"id", id}, {"label", label}, {"pixel_sum", s}});
      art += "  example " + std::to_string(id) + ", label " + std::to_string(label) + "\n" +
             ascii_art(image, shape.h, shape.w);
    }
  });
  nlohmann::json j{{"input", o.input},
                   {"format", format},
                   {"files", files.size()},
                   {"examples", count},
                   {"image_shape", {shape.c, shape.h, shape.w}},
                   {"label_histogram", histogram},
                   {"pixel_sum", pixel_sum},
                   {"skipped_records", src->skipped_records()},
                   {"samples", samples}};
  if (o.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("%s: %s, %zu file(s), %lld examples of %lldx%lldx%lld\n", o.input.c_str(),
              format.c_str(), files.size(), static_cast<long long>(count),
              static_cast<long long>(shape.c), static_cast<long long>(shape.h),
              static_cast<long long>(shape.w));
  std::printf("label histogram:");
  for (int c = 0; c < o.num_classes; ++c)
    std::printf(" %d:%lld", c, static_cast<long long>(histogram[static_cast<std::size_t>(c)]));
  std::printf("\npixel sum (0..255 scale): %.0f\n", pixel_sum);
  if (src->skipped_records())
    std::printf("skipped corrupt records: %lld\n", static_cast<long long>(src->skipped_records()));
  std::printf("samples:\n%s", art.c_str());
  return 0;
}

bool parse(int argc, char** argv, SetupOptions* o) {
  po::options_description desc(
      "mnist_data_setup: convert MNIST IDX files to sharded HDF5/TFRecord/CSV, verify, inspect.\n"
      "Usage: mnist_data_setup --output DIR [--format hdf5|tfrecord|csv] [--num-partitions N]\n"
      "       mnist_data_setup --read --input PATH [--json]");
  desc.add_options()("help,h", "print this help")(
      "version", "print the version, the commit and the libraries it runs on")(
      "data-dir", po::value(&o->data_dir)->default_value(o->data_dir),
      "MNIST IDX files (raw or .gz)")("output", po::value(&o->output),
                                      "output directory (gets train/ and test/)")(
      "format", po::value<std::string>(),
      "hdf5 | tfrecord | csv when writing (default hdf5); "
      "auto | idx | hdf5 | tfrecord | csv with --read (default auto)")(
      "num-partitions", po::value(&o->partitions)->default_value(o->partitions),
      "shards per split")("tfrecord-layout", po::value(&o->layout)->default_value(o->layout),
                          "int64: image int64_list + label int64_list (TensorFlowOnSpark); "
                          "bytes: image_raw bytes + label int64 (TPU)")(
      "compress", po::bool_switch(&o->compress), "GZIP TFRecord files / gzip-filtered HDF5 chunks")(
      "verify", po::bool_switch(&o->verify),
      "read the written shards back and compare with the IDX source")(
      "verify-only", po::bool_switch(&o->verify_only),
      "compare shards already in --output with the IDX source, writing nothing (e.g. from "
      "another host)")("read", po::bool_switch(&o->read), "inspect the data set given by --input")(
      "input", po::value(&o->input), "file, directory, glob or comma list to inspect")(
      "features", po::value(&o->features),
      "feature/dataset names, e.g. image=image_raw,label=label")(
      "num-classes", po::value(&o->num_classes)->default_value(o->num_classes), "label classes")(
      "skip-corrupt", po::bool_switch(&o->skip_corrupt),
      "skip corrupt TFRecord records, count them")(
      "samples", po::value(&o->samples)->default_value(o->samples), "examples to show with --read")(
      "json", po::bool_switch(&o->json), "--read: print one JSON object");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw OptionError(e.what());
  }
  if (vm.count("version")) {
    std::cout << version_text("mnist_data_setup");
    return false;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return false;
  }
  if (vm.count("format")) {
    (o->read ? o->read_format : o->format) =
        train::parse_data_format(vm["format"].as<std::string>());
  }
  if (o->read) {
    if (o->input.empty()) throw OptionError("--read needs --input PATH");
  } else {
    if (o->output.empty()) throw OptionError("--output DIR is required (or --read --input PATH)");
    if (o->format == data::Format::kAuto || o->format == data::Format::kIdx) {
      throw OptionError("--format: '" + data::to_string(o->format) +
                        "' is not allowed (expected hdf5, tfrecord or csv)");
    }
    if (o->partitions < 1) throw OptionError("--num-partitions: must be >= 1");
    data::parse_example_layout(o->layout);
  }
  if (o->num_classes < 2) throw OptionError("--num-classes: must be >= 2");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  SetupOptions o;
  try {
    if (!parse(argc, argv, &o)) return 0;
  } catch (const OptionError& e) {
    std::fprintf(stderr, "mnist_data_setup: error: %s\n", e.what());
    return 2;
  }
  try {
    comm::MpiEnv mpi(&argc, &argv);
    try {
      if (o.read) return mpi.rank() == 0 ? inspect(o) : 0;
      if (!o.verify_only) {
        convert_split(o, mpi, "train", "train");
        convert_split(o, mpi, "t10k", "test");
      }
      if (o.verify || o.verify_only) {
        mpi_call("MPI_Barrier (shards written)", MPI_Barrier, MPI_COMM_WORLD);
        if (mpi.rank() == 0) {
          verify_split(o, "train", "train");
          verify_split(o, "t10k", "test");
        }
      }
      return 0;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mnist_data_setup: [rank %d] error: %s\n", mpi.rank(), e.what());
      if (mpi.size() > 1) comm::abort_job(1);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_data_setup: error: %s\n", e.what());
    return 1;
  }
}
