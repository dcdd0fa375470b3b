// BucketPlan: how the sync exchange cuts the flat gradient buffer, computed once, without MPI.
//
// Buckets of about --bucket-mb, from the buffer's end: backward produces the last layers
// first, so the last bucket is ready first and bucket 0 is the buffer's tail. Sharded (ZeRO-1),
// every bucket is further cut into one aligned piece per rank, in rank order: a rank owns its
// piece of each bucket, receives that piece's reduced gradient, steps it, and sends it in the
// allgather. Pieces per bucket rather than one slice per rank keep every reduce-scatter
// balanced (allreduce_exchange.h says what one slice per rank cost). A rank keeps the pieces it
// owns back to back, in bucket order: its optimizer state is that "owned" buffer.
#pragma once

#include <cstddef>
#include <vector>

#include "dtrain/nn/parameter_layout.h"

namespace dtrain::comm {

class BucketPlan {
 public:
  // A bucket's pieces as MPI wants them (counts and displacements from the bucket's start, one
  // per rank), this rank's piece in the flat buffer, and where it sits in the owned buffer.
  struct Pieces {
    std::vector<int> counts, displs;
    nn::ParamRange mine;
    std::size_t owned_offset = 0;
  };

  // total_floats: the flat buffer's size; unsharded, a rank owns all of it.
  BucketPlan(std::size_t total_floats, double bucket_mb, int ranks, int rank, bool sharded);

  std::size_t total() const { return total_; }
  bool sharded() const { return sharded_; }
  // From the end of the buffer to its start.
  const std::vector<nn::ParamRange>& buckets() const { return buckets_; }
  // Sharded only.
  const Pieces& pieces(std::size_t bucket) const { return pieces_[bucket]; }
  // The floats this rank owns, and their ranges of the flat buffer in the owned buffer's order.
  std::size_t owned_size() const { return owned_size_; }
  std::vector<nn::ParamRange> owned_ranges() const;

 private:
  std::size_t total_;
  bool sharded_;
  std::vector<nn::ParamRange> buckets_;
  std::vector<Pieces> pieces_;
  std::size_t owned_size_ = 0;
};

}  // namespace dtrain::comm
