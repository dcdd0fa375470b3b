// ParameterLayout: the one list of every trainable tensor, with its place in the flat buffers.
//
// Parameters and gradients each live in one contiguous float array. Layers take views of it;
// the parameter-server shards, allreduce buckets, checkpoint datasets and the export format are
// all computed from this layout, so nothing else keeps its own list of tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dtrain::nn {

struct TensorInfo {
  std::string name;            // "conv1/kernel"
  std::vector<int64_t> shape;  // row-major, oneDNN plain order (oihw for conv, oi for dense)
  std::size_t offset = 0;      // in floats, from the start of the flat buffer
  std::size_t size = 0;        // number of floats
};

// A half-open range [begin, end) of the flat buffers, in floats.
struct ParamRange {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
  bool empty() const { return end == begin; }
};

class ParameterLayout {
 public:
  // Tensors start on 64-byte boundaries; the few padding floats between them stay zero.
  static constexpr std::size_t kAlignFloats = 16;

  // Appends a tensor and returns its offset. Names must be unique.
  std::size_t add(const std::string& name, std::vector<int64_t> shape);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& find(const std::string& name) const;
  // Floats in the flat buffer, padding included.
  std::size_t total() const { return total_; }
  // Floats that are real parameters (no padding).
  std::size_t parameter_count() const;
  // A one-line-per-tensor table for logs: name, shape, offset, size.
  std::string describe() const;

 private:
  std::vector<TensorInfo> tensors_;
  std::size_t total_ = 0;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace dtrain::nn
