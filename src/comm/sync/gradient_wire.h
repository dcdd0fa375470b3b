// GradientWire: the form the sync exchange's gradients take on the wire (--compress), with its
// MPI type and sum. fp32: the gradients themselves, summed with MPI_SUM, no copy. fp16: each
// range encoded to IEEE half after a power-of-two scale (fp16.h), summed by dtrain's MPI_Op, and
// decoded after the reduction; master weights, optimizer state and the parameter allgather stay
// fp32. One reduction path serves both: encode, reduce (allreduce or reduce-scatter), decode.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "comm/sync/fp16.h"
#include "dtrain/comm/roles.h"
#include "dtrain/nn/parameter_layout.h"

namespace dtrain::comm {

class GradientWire {
 public:
  // fp16_scale: fp16 only, the power of two gradients are multiplied by before encoding (the
  // runner gives the largest one <= the global batch, so that the wire carries sums over
  // examples rather than means, further from fp16's subnormals). total_floats: the flat
  // buffer; owned_floats: what a reduce-scatter delivers to this rank (0: allreduce only).
  GradientWire(Compression compression, float fp16_scale, std::size_t total_floats,
               std::size_t owned_floats);

  // The scale for a global batch: its largest power of two, so that the wire carries the
  // gradient summed over (about) the batch's examples rather than its mean.
  static float fp16_scale_for(int64_t global_batch);

  Compression compression() const { return compression_; }
  std::size_t bytes_per_value() const { return fp16() ? 2 : sizeof(float); }
  MPI_Datatype type() const { return fp16() ? MPI_UINT16_T : MPI_FLOAT; }
  MPI_Op op() const { return fp16() ? sum_->op() : MPI_SUM; }

  // The wire form of grads[range], to send or reduce in place.
  void* encode(float* grads, nn::ParamRange range);
  // Where a reduce-scatter delivers this rank's piece that belongs at `owned_offset` of the
  // owned gradients.
  void* receive_at(float* owned_grads, std::size_t owned_offset);
  // n reduced values on the wire (from encode or receive_at) back into out, unscaled.
  void decode(const void* wire, std::size_t n, float* out) const;

 private:
  bool fp16() const { return compression_ == Compression::kFp16; }

  Compression compression_;
  float scale_;
  std::vector<std::uint16_t> half_, owned_half_;  // fp16: the flat buffer's, the owned pieces'
  std::unique_ptr<fp16::Fp16Sum> sum_;
};

}  // namespace dtrain::comm
