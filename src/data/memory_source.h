// MemorySource: examples held in memory as bytes (0..255), e.g. a whole IDX pair.
// IDX files are small, single-file data sets with no random-access structure beyond the
// array itself, so they are read whole; the sharded formats stream from disk instead.
#pragma once

#include "dtrain/data/example_source.h"

namespace dtrain::data {

class MemorySource final : public ExampleSource {
 public:
  MemorySource(std::string name, ImageShape shape, std::vector<std::uint8_t> pixels,
               std::vector<int32_t> labels);

  // Loads <dir>/<prefix>-images-idx3-ubyte and <dir>/<prefix>-labels-idx1-ubyte (raw or
  // .gz; "train" or "t10k" prefixes, also the "train-images.idx3-ubyte" spelling).
  static std::unique_ptr<MemorySource> from_idx_dir(const std::string& dir,
                                                    const std::string& prefix);
  static std::unique_ptr<MemorySource> from_idx_files(const std::string& images,
                                                      const std::string& labels);

  // CSV shards as mnist_data_setup writes them: one example per line, "label,p0,...,pN" with
  // pixels 0..255, square single-channel images. Each file is one unit.
  static std::unique_ptr<MemorySource> from_csv_files(const std::vector<std::string>& files);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  ImageShape image_shape() const override { return shape_; }
  std::vector<int64_t> unit_sizes() const override { return units_; }
  std::string describe() const override { return name_; }
  std::vector<std::size_t> read(std::span<const int64_t> ids, float* images,
                                int32_t* labels) override;

  const std::vector<std::uint8_t>& pixels() const { return pixels_; }
  const std::vector<int32_t>& labels() const { return labels_; }

 private:
  std::string name_;
  ImageShape shape_;
  std::vector<std::uint8_t> pixels_;
  std::vector<int32_t> labels_;
  std::vector<int64_t> units_;
};

// Finds "<dir>/<prefix>-<kind>-idx<rank>-ubyte" in its usual spellings (.gz, '.' for '-').
// Throws DataError listing what was tried.
std::string find_idx_file(const std::string& dir, const std::string& prefix,
                          const std::string& kind, int rank);

}  // namespace dtrain::data
