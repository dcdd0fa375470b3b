#include "data/tfrecord_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "data/idx.h"
#include "dtrain/util/error.h"

namespace dtrain::data {

namespace {

bool is_gzip(int fd) {
  unsigned char magic[2] = {0, 0};
  return pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

void pread_all(int fd, std::uint8_t* buf, std::uint64_t n, std::uint64_t offset,
               const std::string& path) {
  while (n > 0) {
    const ssize_t got = pread(fd, buf, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw DataError(path + ": read error at byte offset " + std::to_string(offset) + ": " +
                      std::strerror(errno));
    }
    if (got == 0)
      throw DataError(path + ": unexpected end of file at byte offset " + std::to_string(offset));
    buf += got;
    n -= static_cast<std::uint64_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

}  // namespace

TFRecordSource::TFRecordSource(std::vector<std::string> files, Options options)
    : options_(std::move(options)) {
  if (files.empty()) throw DataError("no TFRecord files given");
  files_.resize(files.size());
  std::vector<int64_t> sizes;
  for (std::size_t i = 0; i < files.size(); ++i) {
    files_[i].path = files[i];
    open_file(files_[i]);
    sizes.push_back(static_cast<int64_t>(files_[i].records.size()));
  }
  index_ = UnitIndex(sizes);
  if (index_.total() == 0) throw DataError(describe() + ": no records");
  // The shape, and a failure now rather than hours into a job when the features do not fit.
  for (const auto& f : files_) {
    if (f.records.empty()) continue;
    const RecordSpan& r = f.records.front();
    const auto bytes = record_bytes(f, r);
    try {
      shape_ = example_image_shape({bytes + kFrameHeaderBytes, r.length}, options_.names);
    } catch (const DataError& e) {
      throw DataError(f.path + ": record at byte offset " + std::to_string(r.offset) + ": " +
                      e.what());
    }
    std::vector<float> image(static_cast<std::size_t>(shape_.size()));
    int32_t label = 0;
    read_record(f, r, image.data(), &label);
    break;
  }
}

TFRecordSource::~TFRecordSource() {
  for (auto& f : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

void TFRecordSource::open_file(File& f) {
  f.fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw DataError(f.path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  fstat(f.fd, &st);
  if (st.st_size == 0) throw DataError(f.path + ": empty file (expected TFRecord frames)");
  if (is_gzip(f.fd)) {
    f.content = read_file_maybe_gzip(f.path);
    ::close(f.fd);
    f.fd = -1;
    if (f.content.empty()) throw DataError(f.path + ": empty file after GZIP decompression");
    const FrameScan scan = scan_frames(f.content, f.path, true, options_.skip_corrupt);
    f.records = scan.records;
    skipped_ += scan.corrupt;
    if (scan.corrupt) {
      std::fprintf(stderr, "warning: %s: %lld corrupt record(s) skipped\n", f.path.c_str(),
                   static_cast<long long>(scan.corrupt));
    }
    return;
  }
  const FrameScan scan = scan_frames(
      static_cast<std::uint64_t>(st.st_size),
      [&](std::uint64_t offset, std::uint64_t n, std::uint8_t* out) {
        pread_all(f.fd, out, n, offset, f.path);
      },
      f.path, false, options_.skip_corrupt);
  f.records = scan.records;
  skipped_ += scan.corrupt;
  if (scan.corrupt) {
    std::fprintf(stderr, "warning: %s: a corrupt record header; the rest of the file is skipped\n",
                 f.path.c_str());
  }
}

const std::uint8_t* TFRecordSource::record_bytes(const File& f, const RecordSpan& r) {
  if (f.fd < 0) return f.content.data() + r.offset;
  const std::uint64_t frame = kFrameHeaderBytes + r.length + kFrameFooterBytes;
  buffer_.resize(frame);
  pread_all(f.fd, buffer_.data(), frame, r.offset, f.path);
  parse_frame_header(buffer_.data(), f.path, r.offset);
  return buffer_.data();
}

void TFRecordSource::read_record(const File& f, const RecordSpan& r, float* image, int32_t* label) {
  const std::uint8_t* bytes = record_bytes(f, r);
  check_frame_data(bytes + kFrameHeaderBytes, r.length, bytes + kFrameHeaderBytes + r.length,
                   f.path, r.offset);
  try {
    decode_example({bytes + kFrameHeaderBytes, r.length}, options_.names, shape_.size(),
                   options_.num_classes, image, label, options_.labels_optional);
  } catch (const DataError& e) {
    throw DataError(f.path + ": record at byte offset " + std::to_string(r.offset) + ": " +
                    e.what());
  }
}

std::vector<int64_t> TFRecordSource::unit_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& f : files_) sizes.push_back(static_cast<int64_t>(f.records.size()));
  return sizes;
}

std::string TFRecordSource::describe() const {
  if (files_.size() == 1) return files_[0].path;
  return files_.front().path + " ... " + files_.back().path + " (" + std::to_string(files_.size()) +
         " TFRecord files)";
}

std::vector<std::size_t> TFRecordSource::read(std::span<const int64_t> ids, float* images,
                                              int32_t* labels) {
  std::vector<std::size_t> skipped;
  const int64_t px = shape_.size();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int64_t unit = index_.unit_of(ids[i]);
    const File& f = files_[static_cast<std::size_t>(unit)];
    const RecordSpan& r = f.records[static_cast<std::size_t>(ids[i] - index_.start(unit))];
    try {
      read_record(f, r, images + static_cast<int64_t>(i) * px, labels + i);
    } catch (const DataError& e) {
      if (!options_.skip_corrupt) throw;
      std::fprintf(stderr, "warning: skipping corrupt record: %s\n", e.what());
      skipped.push_back(i);
      ++skipped_;
    }
  }
  return skipped;
}

}  // namespace dtrain::data
