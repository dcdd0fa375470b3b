// CRC-32C (Castagnoli), as TFRecord frames use it: the SSE4.2 crc32 instruction when the CPU
// has it (checked at run time), a table otherwise. Both give the same values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dtrain::data {

std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);
// The table-driven version, always available (for tests against the hardware path).
std::uint32_t crc32c_portable(const void* data, std::size_t n, std::uint32_t crc = 0);

// TFRecord's masking: rotate right by 15 and add a constant, so that a CRC of data that itself
// contains CRCs does not degenerate.
inline std::uint32_t mask_crc(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
inline std::uint32_t masked_crc32c(const void* data, std::size_t n) {
  return mask_crc(crc32c(data, n));
}

}  // namespace dtrain::data
