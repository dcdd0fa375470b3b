// The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
// (0, 0, element type, rank), the dimensions as big-endian uint32, then the elements.
// Files may be gzip-compressed (.gz, as Fashion-MNIST ships them); that is detected from the
// content, not the name. Only unsigned-byte elements (type 0x08) are accepted: that is what
// image and label files hold.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dtrain::data {

struct IdxArray {
  std::vector<std::uint32_t> dims;
  std::vector<std::uint8_t> values;
};

// Parses an IDX image held in memory; `name` is used in error messages. Throws DataError.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::string& name);

// Reads a raw or gzip-compressed file whole. Throws DataError naming the file.
std::vector<std::uint8_t> read_file_maybe_gzip(const std::string& path);

IdxArray read_idx(const std::string& path);

}  // namespace dtrain::data
