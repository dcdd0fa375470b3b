#include "data/memory_source.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "data/idx.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

MemorySource::MemorySource(std::string name, ImageShape shape, std::vector<std::uint8_t> pixels,
                           std::vector<int32_t> labels)
    : name_(std::move(name)),
      shape_(shape),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      units_{static_cast<int64_t>(labels_.size())} {
  if (pixels_.size() != labels_.size() * static_cast<std::size_t>(shape_.size())) {
    throw DataError(name_ + ": " + std::to_string(pixels_.size()) + " pixels for " +
                    std::to_string(labels_.size()) + " labels of " + std::to_string(shape_.size()) +
                    " pixels each");
  }
}

std::string find_idx_file(const std::string& dir, const std::string& prefix,
                          const std::string& kind, int rank) {
  const std::string r = std::to_string(rank);
  const std::string names[] = {prefix + "-" + kind + "-idx" + r + "-ubyte",
                               prefix + "-" + kind + ".idx" + r + "-ubyte"};
  std::string tried;
  for (const auto& n : names) {
    for (const char* ext : {"", ".gz"}) {
      const std::filesystem::path p = std::filesystem::path(dir) / (n + ext);
      if (std::filesystem::is_regular_file(p)) return p.string();
      tried += (tried.empty() ? "" : ", ") + p.string();
    }
  }
  throw DataError("IDX file not found in --data-dir " + dir + " (tried " + tried + ")");
}

std::unique_ptr<MemorySource> MemorySource::from_idx_dir(const std::string& dir,
                                                         const std::string& prefix) {
  const std::string images = find_idx_file(dir, prefix, "images", 3);
  return from_idx_files(images, find_idx_file(dir, prefix, "labels", 1));
}

std::unique_ptr<MemorySource> MemorySource::from_idx_files(const std::string& images_path,
                                                           const std::string& labels_path) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    throw DataError(images_path + ": expected a rank-3 IDX array [n, rows, cols], got rank " +
                    std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    throw DataError(labels_path + ": expected a rank-1 IDX array [n], got rank " +
                    std::to_string(labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(images_path + " holds " + std::to_string(images.dims[0]) + " images but " +
                    labels_path + " holds " + std::to_string(labels.dims[0]) + " labels");
  }
  const ImageShape shape{1, images.dims[1], images.dims[2]};
  std::vector<int32_t> l(labels.values.begin(), labels.values.end());
  return std::make_unique<MemorySource>(images_path, shape, std::move(images.values), std::move(l));
}

std::unique_ptr<MemorySource> MemorySource::from_csv_files(const std::vector<std::string>& files) {
  std::vector<std::uint8_t> pixels;
  std::vector<int32_t> labels;
  std::vector<int64_t> units;
  std::optional<ImageShape> shape;  // from the first row
  int64_t px = 0;
  std::vector<long> values;
  for (const auto& path : files) {
    std::ifstream in(path);
    if (!in) throw DataError(path + ": cannot open");
    std::string line;
    int64_t lineno = 0, rows = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty() || line == "\r") continue;
      const std::string where = path + ":" + std::to_string(lineno);
      const char* p = line.c_str();
      char* end = nullptr;
      values.clear();
      for (;;) {
        errno = 0;
        const long v = std::strtol(p, &end, 10);
        if (end == p || errno != 0) {
          throw DataError(where + ": expected an integer in column " +
                          std::to_string(values.size() + 1));
        }
        values.push_back(v);
        if (*end == '\0' || *end == '\r') break;
        if (*end != ',')
          throw DataError(where + ": expected ',' after column " + std::to_string(values.size()));
        p = end + 1;
      }
      if (!shape) {
        shape = square_image(static_cast<int64_t>(values.size()) - 1, where);
        px = shape->size();
      }
      if (static_cast<int64_t>(values.size()) != px + 1) {
        throw DataError(where + ": " + std::to_string(values.size()) + " columns; expected " +
                        std::to_string(px + 1) + " (label, then " + std::to_string(px) +
                        " pixels)");
      }
      labels.push_back(static_cast<int32_t>(values[0]));
      for (int64_t j = 1; j <= px; ++j) {
        const long v = values[static_cast<std::size_t>(j)];
        if (v < 0 || v > 255)
          throw DataError(where + ": pixel value " + std::to_string(v) + " outside 0..255");
        pixels.push_back(static_cast<std::uint8_t>(v));
      }
      ++rows;
    }
    units.push_back(rows);
  }
  const std::string name = files.size() == 1
                               ? files[0]
                               : files[0] + " ... (" + std::to_string(files.size()) + " CSV files)";
  if (!shape) throw DataError(name + ": no examples");
  auto src = std::make_unique<MemorySource>(name, *shape, std::move(pixels), std::move(labels));
  src->units_ = units;
  return src;
}

std::vector<std::size_t> MemorySource::read(std::span<const int64_t> ids, float* images,
                                            int32_t* labels) {
  const int64_t px = shape_.size();
  constexpr float kScale = 1.0f / 255.0f;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    if (id < 0 || id >= size()) {
      throw DataError(name_ + ": example id " + std::to_string(id) + " out of range");
    }
    const std::uint8_t* src = pixels_.data() + id * px;
    float* dst = images + static_cast<int64_t>(i) * px;
    for (int64_t j = 0; j < px; ++j) dst[j] = static_cast<float>(src[j]) * kScale;
    labels[i] = labels_[static_cast<std::size_t>(id)];
  }
  return {};
}

}  // namespace dtrain::data
