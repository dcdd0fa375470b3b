#include "dtrain/util/aligned_buffer.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace dtrain {

AlignedBuffer::AlignedBuffer(std::size_t count) : size_(count) {
  if (count == 0) return;
  const std::size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  data_.reset(static_cast<float*>(p));
}

void AlignedBuffer::Free::operator()(float* p) const {
  std::free(p);
}

}  // namespace dtrain
