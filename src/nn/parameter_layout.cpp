#include "dtrain/nn/parameter_layout.h"

#include "util/text.h"

#include <sstream>

#include "dtrain/util/error.h"

namespace dtrain::nn {

std::size_t ParameterLayout::add(const std::string& name, std::vector<int64_t> shape) {
  for (const auto& t : tensors_) {
    if (t.name == name) throw Error("parameter '" + name + "' declared twice");
  }
  std::size_t size = 1;
  for (int64_t d : shape) {
    if (d <= 0) throw Error("parameter '" + name + "' has a non-positive dimension");
    size *= static_cast<std::size_t>(d);
  }
  const std::size_t offset = (total_ + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
  tensors_.push_back({name, std::move(shape), offset, size});
  total_ = offset + size;
  return offset;
}

const TensorInfo& ParameterLayout::find(const std::string& name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return t;
  }
  throw Error("no parameter named '" + name + "'");
}

std::size_t ParameterLayout::parameter_count() const {
  std::size_t n = 0;
  for (const auto& t : tensors_) n += t.size;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return bracketed(shape);
}

std::string ParameterLayout::describe() const {
  std::ostringstream out;
  for (const auto& t : tensors_) {
    out << "  " << t.name << " " << shape_string(t.shape) << " offset " << t.offset << " size "
        << t.size << "\n";
  }
  out << "  total " << parameter_count() << " parameters, " << total_ << " floats with padding ("
      << total_ * sizeof(float) / 1e6 << " MB)\n";
  return out.str();
}

}  // namespace dtrain::nn
