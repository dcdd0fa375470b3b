// A fixed-size, 64-byte aligned, zero-initialised float array: the storage behind the flat
// parameter and gradient buffers and optimizer state. Alignment lets vector loops and oneDNN
// work on it without peeling, and keeps every tensor view cache-line aligned.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace dtrain {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t count);
  // A view of `count` floats that someone else owns and keeps alive (a node's shared
  // parameters): not freed, not zeroed. `data` must be 64-byte aligned.
  static AlignedBuffer borrow(float* data, std::size_t count);

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  std::span<float> span() { return {data(), size_}; }
  std::span<const float> span() const { return {data(), size_}; }
  float& operator[](std::size_t i) { return data_[i]; }
  float operator[](std::size_t i) const { return data_[i]; }

 private:
  struct Free {
    bool owned;  // false for borrowed memory
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace dtrain
