// TFRecordSource: tf.train.Example records in TFRecord files, read by global id.
//
// Opening a file indexes it: the 12-byte header of every record is read and its length CRC
// checked (no data is read). A read fetches the records it needs with pread, checks their data
// CRC and parses them. The image shape comes from the first record (see example_image_shape);
// every other record must hold as many values. GZIP files (TFRecordOptions GZIP, detected from the
// content) have no random access, so they are decompressed into memory when opened.
#pragma once

#include <atomic>

#include "data/example_codec.h"
#include "data/tfrecord.h"
#include "dtrain/data/example_source.h"

namespace dtrain::data {

class TFRecordSource final : public ExampleSource {
 public:
  struct Options {
    FeatureNames names;
    int num_classes = 10;
    bool skip_corrupt = false;
    bool labels_optional = false;  // a record without the label feature reads as label -1
  };

  TFRecordSource(std::vector<std::string> files, Options options);
  ~TFRecordSource() override;

  int64_t size() const override { return index_.total(); }
  ImageShape image_shape() const override { return shape_; }
  std::vector<int64_t> unit_sizes() const override;
  std::string describe() const override;
  std::vector<std::size_t> read(std::span<const int64_t> ids, float* images,
                                int32_t* labels) override;
  int64_t skipped_records() const override { return skipped_; }

 private:
  struct File {
    std::string path;
    int fd = -1;                        // plain files
    std::vector<std::uint8_t> content;  // GZIP files, decompressed
    std::vector<RecordSpan> records;
  };
  void open_file(File& f);
  // The frame of record r (header, data, footer), header checked; valid until the next call.
  const std::uint8_t* record_bytes(const File& f, const RecordSpan& r);
  // Reads and decodes one record; throws DataError naming the file and offset.
  void read_record(const File& f, const RecordSpan& r, float* image, int32_t* label);

  Options options_;
  ImageShape shape_;  // from the first record
  std::vector<File> files_;
  UnitIndex index_{{}};
  std::atomic<int64_t> skipped_{0};  // written by the reader thread, read by the trainer
  std::vector<std::uint8_t> buffer_;
};

}  // namespace dtrain::data
