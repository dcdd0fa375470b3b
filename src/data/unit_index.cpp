#include <algorithm>

#include "dtrain/data/example_source.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

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

}  // namespace dtrain::data
