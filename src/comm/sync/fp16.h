// fp16 gradients on the wire (--compress fp16): IEEE binary16 encoding of fp32 gradients and
// the MPI reduction that sums them.
//
// MPI 3.1 and Open MPI 4.1 have no 16-bit float type, so the buffers travel as MPI_UINT16_T
// and a user-defined, commutative MPI_Op (Fp16Sum) adds them: each pair is widened to fp32,
// added, and rounded back, so every partial sum of a reduction is rounded once, as NCCL and
// Horovod's fp16 compression do.
//
// Conversions round to nearest even. Values beyond fp16's range saturate at +-65504 instead
// of becoming infinities (a clipped gradient does less harm than an infinite one); NaN stays
// NaN, so a diverging run still shows it. Gradients are multiplied by a power-of-two `scale`
// before encoding and divided after decoding, which moves them away from fp16's subnormal
// range (below 6.1e-5) without changing their bits otherwise.
//
// x86 CPUs with F16C convert 8 values per instruction; the choice is made at run time, and
// other CPUs take a portable path that gives the same bits.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>

namespace dtrain::comm::fp16 {

// out[i] = fp16(in[i] * scale)
void encode(const float* in, std::size_t n, float scale, std::uint16_t* out);
// out[i] = float(in[i]) / scale
void decode(const std::uint16_t* in, std::size_t n, float scale, float* out);
// inout[i] = fp16(float(in[i]) + float(inout[i]))
void add(const std::uint16_t* in, std::uint16_t* inout, std::size_t n);

// The portable conversions of one value (the reference for the fast path, and its tail).
std::uint16_t from_float(float f);
float to_float(std::uint16_t h);

// Whether encode/decode/add use the CPU's F16C instructions.
bool uses_f16c();

// The MPI_Op that sums fp16 values sent as MPI_UINT16_T; freed with the object (before
// MPI_Finalize).
class Fp16Sum {
 public:
  Fp16Sum();
  ~Fp16Sum();
  Fp16Sum(const Fp16Sum&) = delete;
  Fp16Sum& operator=(const Fp16Sum&) = delete;
  MPI_Op op() const { return op_; }

 private:
  MPI_Op op_ = MPI_OP_NULL;
};

}  // namespace dtrain::comm::fp16
