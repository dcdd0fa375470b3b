#include "dtrain/util/aligned_buffer.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

namespace dtrain {

AlignedBuffer::AlignedBuffer(std::size_t count) : size_(count) {
  if (count == 0) return;
  const std::size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_ = std::unique_ptr<float[], Free>(static_cast<float*>(p), Free{true});
}

AlignedBuffer AlignedBuffer::borrow(float* data, std::size_t count) {
  if (reinterpret_cast<std::uintptr_t>(data) % 64 != 0)
    throw std::invalid_argument("AlignedBuffer::borrow: memory not 64-byte aligned");
  AlignedBuffer b;
  b.data_ = std::unique_ptr<float[], Free>(data, Free{false});
  b.size_ = count;
  return b;
}

void AlignedBuffer::Free::operator()(float* p) const {
  if (owned) std::free(p);
}

}  // namespace dtrain
