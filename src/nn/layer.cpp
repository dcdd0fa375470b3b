#include "nn/layer.h"

namespace dtrain::nn {

void Layer::init_params(std::span<float>, Rng&) const {}

std::size_t Layer::declare(ParameterLayout& layout, const std::string& tensor,
                           std::vector<int64_t> shape) {
  const std::size_t offset = layout.add(name_ + "/" + tensor, std::move(shape));
  const auto& info = layout.tensors().back();
  if (range_.empty()) range_.begin = offset;
  range_.end = offset + info.size;
  return offset;
}

dnnl::memory::dims activation_dims(int64_t batch, Shape s) {
  if (s.flat) return {batch, s.c};
  return {batch, s.c, s.h, s.w};
}

}  // namespace dtrain::nn
