#include "data/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dtrain/util/error.h"

namespace dtrain::data {

namespace {

constexpr std::uint8_t kUnsignedByte = 0x08;
// The largest IDX file accepted (elements). Guards allocation against hostile headers.
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 34;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

const char* type_name(std::uint8_t t) {
  switch (t) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown";
  }
}

}  // namespace

IdxArray parse_idx(std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 4) {
    throw DataError(name + ": not an IDX file: " + std::to_string(bytes.size()) +
                    " bytes, shorter than the 4-byte magic");
  }
  if (bytes[0] != 0 || bytes[1] != 0) {
    char magic[16];
    std::snprintf(magic, sizeof magic, "%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    throw DataError(name + ": not an IDX file: bad magic 0x" + magic +
                    " (expected 0x0000 followed by type and rank)");
  }
  const std::uint8_t type = bytes[2];
  const std::size_t rank = bytes[3];
  if (type != kUnsignedByte) {
    throw DataError(name + ": IDX element type 0x" + std::to_string(type) + " (" + type_name(type) +
                    "); expected 0x08 (unsigned byte)");
  }
  if (rank == 0) throw DataError(name + ": IDX rank 0; expected at least one dimension");
  const std::size_t header = 4 + 4 * rank;
  if (bytes.size() < header) {
    throw DataError(name + ": truncated IDX header: " + std::to_string(bytes.size()) +
                    " bytes, the " + std::to_string(rank) + " dimensions need " +
                    std::to_string(header));
  }
  IdxArray out;
  std::uint64_t count = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::uint32_t d = big_endian_u32(bytes.data() + 4 + 4 * i);
    out.dims.push_back(d);
    count *= d;
    if (count > kMaxElements) throw DataError(name + ": IDX dimensions too large");
  }
  const std::uint64_t expected = header + count;
  if (bytes.size() != expected) {
    throw DataError(name + ": IDX size mismatch: header declares " + std::to_string(count) +
                    " elements (" + std::to_string(expected) + " bytes in all), file has " +
                    std::to_string(bytes.size()) + " bytes" +
                    (bytes.size() < expected ? " (truncated)" : " (trailing data)"));
  }
  out.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return out;
}

std::vector<std::uint8_t> read_file_maybe_gzip(const std::string& path) {
  // gzopen reads plain files transparently, so one path serves .gz and raw alike.
  struct Close {
    void operator()(gzFile f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, Close> f(gzopen(path.c_str(), "rb"));
  if (!f) throw DataError(path + ": cannot open: " + std::strerror(errno));
  gzbuffer(f.get(), 1 << 20);
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(f.get(), chunk, sizeof chunk);
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(f.get(), &err);
      throw DataError(path + ": read error: " + (msg ? msg : "unknown") +
                      (err == Z_DATA_ERROR ? " (corrupt or truncated gzip data)" : ""));
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (bytes.size() > kMaxElements) throw DataError(path + ": file too large");
  }
  // A truncated gzip stream ends without error from gzread; gzclose_r reports it... but only
  // via Z_BUF_ERROR on some zlib versions, so check the decoder state explicitly.
  int err = 0;
  gzerror(f.get(), &err);
  if (err != Z_OK && err != Z_STREAM_END) {
    throw DataError(path + ": corrupt or truncated gzip data");
  }
  return bytes;
}

IdxArray read_idx(const std::string& path) {
  return parse_idx(read_file_maybe_gzip(path), path);
}

}  // namespace dtrain::data
