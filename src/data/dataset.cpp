#include "dtrain/data/dataset.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/hdf5_source.h"
#include "data/memory_source.h"
#include "data/tfrecord.h"
#include "data/tfrecord_source.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_data_extension(const std::string& name);

// Files a directory holds that can be data: not hidden, not Spark/Hadoop markers; and when
// some carry a data extension (.h5, .tfrecord, ...), only those. Other programs leave files
// beside data (Open MPI's MPI-IO, for one, creates <file>.locktest.<n> while it opens a file).
std::vector<std::string> list_dir(const fs::path& dir) {
  std::vector<std::string> all, typed;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.empty() || name[0] == '.' || name[0] == '_') continue;
    all.push_back(e.path().string());
    if (has_data_extension(name)) typed.push_back(e.path().string());
  }
  auto& out = typed.empty() ? all : typed;
  std::sort(out.begin(), out.end());
  return out;
}

std::string head(const std::string& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

// The format a file name says, kAuto if none.
Format format_of_name(const std::string& path) {
  for (const char* ext : {".h5", ".hdf5", ".hdf", ".he5"}) {
    if (ends_with(path, ext)) return Format::kHdf5;
  }
  for (const char* ext : {".tfrecord", ".tfrecords", ".tfr", ".tfrecord.gz", ".tfrecords.gz"}) {
    if (ends_with(path, ext)) return Format::kTfrecord;
  }
  if (ends_with(path, ".csv")) return Format::kCsv;
  return Format::kAuto;
}

bool has_data_extension(const std::string& name) {
  return format_of_name(name) != Format::kAuto;
}

// kAuto when the file is none of the formats.
Format format_of(const std::string& path) {
  if (const Format f = format_of_name(path); f != Format::kAuto) return f;
  const std::string h = head(path, 12);
  if (h.size() >= 8 && h.compare(0, 8, "\x89HDF\r\n\x1a\n") == 0) return Format::kHdf5;
  if (h.size() >= 4 && h[0] == 0 && h[1] == 0 && h[2] == 0x08) return Format::kIdx;
  if (h.size() >= 2 && static_cast<unsigned char>(h[0]) == 0x1f &&
      static_cast<unsigned char>(h[1]) == 0x8b) {
    return Format::kTfrecord;  // GZIP: a GZIP TFRecord (gzip IDX files come through --data-dir)
  }
  if (h.size() == 12) {
    try {
      parse_frame_header(reinterpret_cast<const std::uint8_t*>(h.data()), path, 0);
      return Format::kTfrecord;
    } catch (const DataError&) {
    }
  }
  return Format::kAuto;
}

}  // namespace

std::vector<std::string> expand_paths(const std::string& spec) {
  std::vector<std::string> files;
  std::istringstream in(spec);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (part.empty()) continue;
    std::error_code ec;
    if (fs::is_directory(part, ec)) {
      auto more = list_dir(part);
      if (more.empty()) throw DataError(part + ": directory holds no data files");
      files.insert(files.end(), more.begin(), more.end());
    } else if (part.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      const int rc = glob(part.c_str(), 0, nullptr, &g);
      std::vector<std::string> more;
      if (rc == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
          if (fs::is_regular_file(g.gl_pathv[i], ec)) more.emplace_back(g.gl_pathv[i]);
        }
      }
      globfree(&g);
      if (more.empty()) throw DataError(part + ": no files match this pattern");
      std::sort(more.begin(), more.end());
      files.insert(files.end(), more.begin(), more.end());
    } else {
      if (!fs::exists(part, ec)) throw DataError(part + ": no such file or directory");
      files.push_back(part);
    }
  }
  if (files.empty()) throw DataError("no data files given");
  return files;
}

std::string to_string(Format f) {
  switch (f) {
    case Format::kAuto:
      return "auto";
    case Format::kIdx:
      return "idx";
    case Format::kHdf5:
      return "hdf5";
    case Format::kTfrecord:
      return "tfrecord";
    case Format::kCsv:
      return "csv";
  }
  return "?";
}

Format detect_format(const std::vector<std::string>& files) {
  Format found = Format::kAuto;
  for (const auto& f : files) {
    const Format fmt = format_of(f);
    if (fmt == Format::kAuto) {
      throw DataError(
          f + ": cannot tell the data format (not HDF5, TFRecord, CSV or IDX); give --format");
    }
    if (found != Format::kAuto && fmt != found) {
      throw DataError(f + ": is " + to_string(fmt) + " but earlier files are " + to_string(found) +
                      "; use one format per data set");
    }
    found = fmt;
  }
  return found;
}

std::shared_ptr<ExampleSource> open_dataset(const DatasetOptions& o) {
  const auto files = expand_paths(o.paths);
  const Format format = o.format == Format::kAuto ? detect_format(files) : o.format;
  if (format == Format::kIdx) {
    if (files.size() != 1)
      throw DataError("IDX data: give the images file; its labels file is found beside it");
    std::string labels = files[0];
    const auto pos = labels.rfind("images");
    if (pos == std::string::npos)
      throw DataError(files[0] + ": IDX images file names contain 'images'");
    labels.replace(pos, 6, "labels");
    const auto idx3 = labels.rfind("idx3");
    if (idx3 != std::string::npos) labels.replace(idx3, 4, "idx1");
    return MemorySource::from_idx_files(files[0], labels);
  }
  if (format == Format::kTfrecord) {
    TFRecordSource::Options t;
    t.names = parse_feature_names(o.features);
    t.num_classes = o.num_classes;
    t.skip_corrupt = o.skip_corrupt;
    t.labels_optional = o.labels_optional;
    return std::make_shared<TFRecordSource>(files, t);
  }
  if (format == Format::kHdf5) {
    Hdf5Source::Options h;
    const FeatureNames names = parse_feature_names(o.features, {h.images, h.labels});
    h.images = names.image;
    h.labels = names.label;
    h.num_classes = o.num_classes;
    h.hints = o.io_hints;
    h.labels_optional = o.labels_optional;
    return std::make_shared<Hdf5Source>(files, h);
  }
  return MemorySource::from_csv_files(files);
}

}  // namespace dtrain::data
