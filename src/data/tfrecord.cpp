#include "data/tfrecord.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "data/crc32c.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

namespace {

std::uint64_t le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
void put_le(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::string at(const std::string& file, std::uint64_t offset) {
  return file + ": record at byte offset " + std::to_string(offset);
}

}  // namespace

std::uint64_t parse_frame_header(const std::uint8_t* header, const std::string& file,
                                 std::uint64_t offset) {
  const std::uint64_t length = le64(header);
  if (masked_crc32c(header, 8) != le32(header + 8)) {
    throw DataError(at(file, offset) +
                    ": length CRC mismatch (corrupt record or not a TFRecord file)");
  }
  if (length > kMaxRecordBytes) {
    throw DataError(at(file, offset) + ": record length " + std::to_string(length) +
                    " exceeds the 1 GiB limit");
  }
  return length;
}

void check_frame_data(const std::uint8_t* data, std::uint64_t length, const std::uint8_t* footer,
                      const std::string& file, std::uint64_t offset) {
  if (masked_crc32c(data, length) != le32(footer)) {
    throw DataError(at(file, offset) + ": data CRC mismatch (corrupt record)");
  }
}

FrameScan scan_frames(std::uint64_t size, const ReadAt& read_at, const std::string& file,
                      bool check_data, bool skip_corrupt) {
  FrameScan scan;
  std::uint64_t pos = 0;
  std::uint8_t header[kFrameHeaderBytes];
  std::vector<std::uint8_t> data;
  while (pos < size) {
    try {
      if (size - pos < kFrameHeaderBytes) {
        throw DataError(at(file, pos) + ": truncated header (" + std::to_string(size - pos) +
                        " bytes left, 12 needed)");
      }
      read_at(pos, kFrameHeaderBytes, header);
      // The length is trusted (for sizes and seeks) only once its CRC has matched.
      const std::uint64_t length = parse_frame_header(header, file, pos);
      const std::uint64_t frame = kFrameHeaderBytes + length + kFrameFooterBytes;
      if (size - pos < frame) {
        throw DataError(at(file, pos) + ": truncated record (" + std::to_string(length) +
                        " data bytes declared, " + std::to_string(size - pos) +
                        " bytes left in file)");
      }
      bool good = true;
      if (check_data) {
        data.resize(length + kFrameFooterBytes);
        read_at(pos + kFrameHeaderBytes, data.size(), data.data());
        try {
          check_frame_data(data.data(), length, data.data() + length, file, pos);
        } catch (const DataError&) {
          if (!skip_corrupt) throw;
          ++scan.corrupt;
          good = false;
        }
      }
      if (good) scan.records.push_back({pos, length});
      pos += frame;
    } catch (const DataError&) {
      if (!skip_corrupt) throw;
      ++scan.corrupt;  // the framing is lost: nothing after this point can be found
      break;
    }
  }
  return scan;
}

FrameScan scan_frames(std::span<const std::uint8_t> bytes, const std::string& file, bool check_data,
                      bool skip_corrupt) {
  return scan_frames(
      bytes.size(),
      [&](std::uint64_t offset, std::uint64_t n, std::uint8_t* out) {
        std::memcpy(out, bytes.data() + offset, n);
      },
      file, check_data, skip_corrupt);
}

std::vector<std::uint8_t> frame_record(std::span<const std::uint8_t> record) {
  std::vector<std::uint8_t> out(kFrameHeaderBytes + record.size() + kFrameFooterBytes);
  put_le(out.data(), record.size(), 8);
  put_le(out.data() + 8, masked_crc32c(out.data(), 8), 4);
  if (!record.empty()) std::memcpy(out.data() + kFrameHeaderBytes, record.data(), record.size());
  put_le(out.data() + kFrameHeaderBytes + record.size(),
         masked_crc32c(record.data(), record.size()), 4);
  return out;
}

struct TFRecordWriter::Impl {
  std::string path;
  std::FILE* plain = nullptr;
  gzFile gz = nullptr;
};

TFRecordWriter::TFRecordWriter(const std::string& path, bool gzip)
    : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (gzip) {
    impl_->gz = gzopen(path.c_str(), "wb6");
    if (!impl_->gz) throw DataError(path + ": cannot create: " + std::strerror(errno));
  } else {
    impl_->plain = std::fopen(path.c_str(), "wb");
    if (!impl_->plain) throw DataError(path + ": cannot create: " + std::strerror(errno));
  }
}

TFRecordWriter::~TFRecordWriter() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; callers who care call close() themselves.
  }
}

void TFRecordWriter::write(std::span<const std::uint8_t> record) {
  const auto framed = frame_record(record);
  bool ok = false;
  if (impl_->gz) {
    ok = gzwrite(impl_->gz, framed.data(), static_cast<unsigned>(framed.size())) ==
         static_cast<int>(framed.size());
  } else if (impl_->plain) {
    ok = std::fwrite(framed.data(), 1, framed.size(), impl_->plain) == framed.size();
  }
  if (!ok) throw DataError(impl_->path + ": write failed");
}

void TFRecordWriter::flush() {
  if (impl_->gz) gzflush(impl_->gz, Z_SYNC_FLUSH);
  if (impl_->plain) std::fflush(impl_->plain);
}

void TFRecordWriter::close() {
  bool ok = true;
  if (impl_->gz) {
    ok = gzclose(impl_->gz) == Z_OK;
    impl_->gz = nullptr;
  }
  if (impl_->plain) {
    ok = std::fclose(impl_->plain) == 0;
    impl_->plain = nullptr;
  }
  if (!ok) throw DataError(impl_->path + ": error closing file");
}

}  // namespace dtrain::data
