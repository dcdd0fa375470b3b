#include <algorithm>
#include <cmath>

#include "dtrain/data/example_source.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

std::string ImageShape::str() const {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

ImageShape square_image(int64_t values, const std::string& where) {
  auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(values))));
  if (values <= 0 || side * side != values) {
    throw DataError(where + ": an image of " + std::to_string(values) +
                    " values that is not square; its height and width cannot be told (TFRecord: "
                    "add int64 'height' and 'width' features)");
  }
  return {1, side, side};
}

UnitIndex::UnitIndex(std::vector<int64_t> unit_sizes) {
  starts_.reserve(unit_sizes.size() + 1);
  starts_.push_back(0);
  for (int64_t n : unit_sizes) starts_.push_back(starts_.back() + n);
}

int64_t UnitIndex::unit_of(int64_t id) const {
  if (id < 0 || id >= total()) {
    throw DataError("example id " + std::to_string(id) + " out of range [0, " +
                    std::to_string(total()) + ")");
  }
  auto it = std::upper_bound(starts_.begin(), starts_.end(), id);
  return static_cast<int64_t>(it - starts_.begin()) - 1;
}

int64_t drop_rows(const std::vector<std::size_t>& skipped, int64_t rows, int64_t pixels,
                  float* images, int32_t* labels, int64_t* ids) {
  if (skipped.empty()) return rows;
  std::vector<bool> drop(static_cast<std::size_t>(rows), false);
  for (auto i : skipped) drop[i] = true;
  int64_t out = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (drop[static_cast<std::size_t>(r)]) continue;
    if (out != r) {
      std::copy_n(images + r * pixels, pixels, images + out * pixels);
      labels[out] = labels[r];
      if (ids) ids[out] = ids[r];
    }
    ++out;
  }
  std::fill(images + out * pixels, images + rows * pixels, 0.f);
  std::fill(labels + out, labels + rows, 0);
  if (ids) std::fill(ids + out, ids + rows, -1);
  return out;
}

}  // namespace dtrain::data
