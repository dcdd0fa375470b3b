#include "comm/sync/bucket_plan.h"

#include <algorithm>

namespace dtrain::comm {

namespace {

constexpr std::size_t kAlign = nn::ParameterLayout::kAlignFloats;

// `ranks` aligned slices of [0, total), in rank order, as even as the alignment allows.
std::vector<nn::ParamRange> slice_buffer(std::size_t total, int ranks) {
  const std::size_t units = (total + kAlign - 1) / kAlign, n = static_cast<std::size_t>(ranks);
  std::vector<nn::ParamRange> slices;
  for (std::size_t r = 0; r < n; ++r)
    slices.push_back(
        {std::min(total, units * r / n * kAlign), std::min(total, units * (r + 1) / n * kAlign)});
  return slices;
}

}  // namespace

BucketPlan::BucketPlan(std::size_t total_floats, double bucket_mb, int ranks, int rank,
                       bool sharded)
    : total_(total_floats), sharded_(sharded) {
  const auto per_bucket = std::max<std::size_t>(
      kAlign, static_cast<std::size_t>(bucket_mb * 1e6 / sizeof(float)) / kAlign * kAlign);
  for (std::size_t end = total_; end > 0;) {
    const std::size_t begin = end > per_bucket ? end - per_bucket : 0;
    buckets_.push_back({begin, end});
    end = begin;
  }
  owned_size_ = total_;
  if (!sharded_) return;
  owned_size_ = 0;
  const auto me = static_cast<std::size_t>(rank);
  for (const auto& b : buckets_) {
    Pieces p;
    for (const auto& piece : slice_buffer(b.size(), ranks)) {
      p.counts.push_back(static_cast<int>(piece.size()));
      p.displs.push_back(static_cast<int>(piece.begin));
    }
    p.mine = {b.begin + static_cast<std::size_t>(p.displs[me]),
              b.begin + static_cast<std::size_t>(p.displs[me] + p.counts[me])};
    p.owned_offset = owned_size_;
    owned_size_ += p.mine.size();
    pieces_.push_back(std::move(p));
  }
}

std::vector<nn::ParamRange> BucketPlan::owned_ranges() const {
  if (!sharded_) return {{0, total_}};
  std::vector<nn::ParamRange> ranges;
  for (const auto& p : pieces_) ranges.push_back(p.mine);
  return ranges;
}

}  // namespace dtrain::comm
