#include "dtrain/data/memory_source.h"

#include <filesystem>

#include "dtrain/data/idx.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

MemorySource::MemorySource(std::string name, ImageShape shape, std::vector<std::uint8_t> pixels,
                           std::vector<int32_t> labels)
    : name_(std::move(name)), shape_(shape), pixels_(std::move(pixels)), labels_(std::move(labels)) {
  if (pixels_.size() != labels_.size() * static_cast<std::size_t>(shape_.size())) {
    throw DataError(name_ + ": " + std::to_string(pixels_.size()) + " pixels for " +
                    std::to_string(labels_.size()) + " labels of " +
                    std::to_string(shape_.size()) + " pixels each");
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
  return from_idx_files(find_idx_file(dir, prefix, "images", 3),
                        find_idx_file(dir, prefix, "labels", 1));
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
  return std::make_unique<MemorySource>(images_path, shape, std::move(images.values),
                                        std::move(l));
}

void MemorySource::read(std::span<const int64_t> ids, float* images, int32_t* labels) {
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
}

}  // namespace dtrain::data
