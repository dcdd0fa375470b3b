#include "comm/sync/gradient_wire.h"

#include <algorithm>
#include <cmath>

namespace dtrain::comm {

GradientWire::GradientWire(Compression compression, float fp16_scale, std::size_t total_floats,
                           std::size_t owned_floats)
    : compression_(compression), scale_(fp16_scale) {
  if (!fp16()) return;
  half_.resize(total_floats);
  owned_half_.resize(std::max<std::size_t>(1, owned_floats));
  sum_ = std::make_unique<fp16::Fp16Sum>();
}

float GradientWire::fp16_scale_for(int64_t global_batch) {
  return std::exp2(std::floor(std::log2(static_cast<float>(std::max<int64_t>(1, global_batch)))));
}

void* GradientWire::encode(float* grads, nn::ParamRange range) {
  if (!fp16()) return grads + range.begin;
  std::uint16_t* half = half_.data() + range.begin;
  fp16::encode(grads + range.begin, range.size(), scale_, half);
  return half;
}

void* GradientWire::receive_at(float* owned_grads, std::size_t owned_offset) {
  if (!fp16()) return owned_grads + owned_offset;
  return owned_half_.data() + owned_offset;
}

void GradientWire::decode(const void* wire, std::size_t n, float* out) const {
  if (!fp16()) return;  // reduced where it lies
  fp16::decode(static_cast<const std::uint16_t*>(wire), n, scale_, out);
}

}  // namespace dtrain::comm
