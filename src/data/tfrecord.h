// TFRecord framing, as TensorFlow writes it:
//   uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)
// (little-endian). The length CRC is checked before anything is sized from the length, so a
// corrupt header can never make a reader allocate or seek wildly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace dtrain::data {

constexpr std::uint64_t kFrameHeaderBytes = 12;
constexpr std::uint64_t kFrameFooterBytes = 4;
// Records larger than this are treated as corrupt (an MNIST example is ~3 KB).
constexpr std::uint64_t kMaxRecordBytes = std::uint64_t{1} << 30;

struct RecordSpan {
  std::uint64_t offset = 0;  // byte offset of the frame (its length field) in the file
  std::uint64_t length = 0;  // data bytes
};

// Length of the record whose 12-byte header is at `offset`; throws DataError (naming file and
// offset) when the length CRC does not match or the length is absurd.
std::uint64_t parse_frame_header(const std::uint8_t* header, const std::string& file,
                                 std::uint64_t offset);
// Throws DataError when the data CRC (the 4 bytes after the data) does not match.
void check_frame_data(const std::uint8_t* data, std::uint64_t length, const std::uint8_t* footer,
                      const std::string& file, std::uint64_t offset);

struct FrameScan {
  std::vector<RecordSpan> records;
  std::int64_t corrupt = 0;  // frames skipped (skip_corrupt)
};

// Reads n bytes at a byte offset of the file being scanned (throws DataError on failure).
using ReadAt = std::function<void(std::uint64_t offset, std::uint64_t n, std::uint8_t* out)>;

// Walks every frame of a file of `size` bytes. Only the 12-byte headers are read unless
// check_data, which also reads and verifies each record's data CRC. A bad frame throws, or with
// skip_corrupt is counted: a bad data CRC skips that record; a bad header or a truncated frame
// ends the scan (the rest of the file cannot be framed).
FrameScan scan_frames(std::uint64_t size, const ReadAt& read_at, const std::string& file,
                      bool check_data, bool skip_corrupt);
// The same over a file held in memory.
FrameScan scan_frames(std::span<const std::uint8_t> bytes, const std::string& file, bool check_data,
                      bool skip_corrupt);

// Appends framed records to a file, optionally GZIP-compressed (TFRecordOptions GZIP).
class TFRecordWriter {
 public:
  TFRecordWriter(const std::string& path, bool gzip);
  ~TFRecordWriter();
  TFRecordWriter(const TFRecordWriter&) = delete;
  TFRecordWriter& operator=(const TFRecordWriter&) = delete;
  void write(std::span<const std::uint8_t> record);
  void write(const std::string& record) {
    write({reinterpret_cast<const std::uint8_t*>(record.data()), record.size()});
  }
  // Pushes buffered records to the file (readers following the file see them).
  void flush();
  // Flushes and closes; throws DataError on I/O errors.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Frames one record into bytes (header, data, footer).
std::vector<std::uint8_t> frame_record(std::span<const std::uint8_t> record);

}  // namespace dtrain::data
