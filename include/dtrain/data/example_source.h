// ExampleSource: a data set any rank can read any example of, by global index.
//
// Global ids run through the source's units (files) in order: the first file holds ids
// [0, n0), the next [n0, n0 + n1), and so on. Sharding works on these ids and unit sizes only,
// so every format shares one ShardPlan and one BatchStream.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dtrain::data {

struct ImageShape {
  int64_t c = 1, h = 28, w = 28;
  int64_t size() const { return c * h * w; }
  bool operator==(const ImageShape&) const = default;
  std::string str() const;  // "1x28x28" (C x H x W)
};

// The shape of an image stored as `values` pixels with no shape of its own (a CSV row, a
// TFRecord list without height/width features): square and single-channel. Throws DataError
// naming `where` when `values` is not a square number.
ImageShape square_image(int64_t values, const std::string& where);

class ExampleSource {
 public:
  virtual ~ExampleSource() = default;
  virtual int64_t size() const = 0;
  virtual ImageShape image_shape() const = 0;
  // Examples in each unit (file), in global-id order; they sum to size().
  virtual std::vector<int64_t> unit_sizes() const = 0;
  virtual std::string describe() const = 0;
  // Reads the listed examples: images as count x C x H x W floats in [0, 1], labels as ints.
  // ids may come in any order. Only one thread reads a given source at a time. Returns the
  // positions (in ids) of records skipped as corrupt; always empty unless skipping is enabled.
  virtual std::vector<std::size_t> read(std::span<const int64_t> ids, float* images,
                                        int32_t* labels) = 0;
  // Records skipped as corrupt so far (formats with --skip-corrupt); 0 otherwise.
  virtual int64_t skipped_records() const { return 0; }
};

// Removes the rows listed in `skipped` (records skipped as corrupt) from the first `rows` rows:
// later rows move up and the freed tail becomes zero padding (id -1). Returns the rows left.
int64_t drop_rows(const std::vector<std::size_t>& skipped, int64_t rows, int64_t pixels,
                  float* images, int32_t* labels, int64_t* ids);

// Maps a global id to (unit, index within unit) given unit sizes.
class UnitIndex {
 public:
  explicit UnitIndex(std::vector<int64_t> unit_sizes);
  int64_t total() const { return starts_.back(); }
  int64_t units() const { return static_cast<int64_t>(starts_.size()) - 1; }
  int64_t start(int64_t unit) const { return starts_[static_cast<std::size_t>(unit)]; }
  // The unit holding a global id (throws DataError when out of range).
  int64_t unit_of(int64_t id) const;

 private:
  std::vector<int64_t> starts_;  // prefix sums, starts_[0] = 0
};

}  // namespace dtrain::data
