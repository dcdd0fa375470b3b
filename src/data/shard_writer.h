// Writing data sets as shards: HDF5, TFRecord (tf.train.Example) or CSV files, one per
// partition. Each file is written under a temporary name and renamed when complete, so a
// killed conversion never leaves a partial shard that looks whole.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "data/example_codec.h"
#include "dtrain/data/dataset.h"
#include "dtrain/data/example_source.h"

namespace dtrain::data {

struct ShardFormat {
  Format format = Format::kHdf5;                 // kHdf5 | kTfrecord | kCsv
  ExampleLayout layout = ExampleLayout::kInt64;  // tfrecord
  bool compress = false;                         // tfrecord: GZIP file; hdf5: gzip-filtered chunks
};

// The file name of partition p: part-00003.h5, part-00003.tfrecord(.gz), part-00003.csv.
std::string shard_name(const ShardFormat& f, int partition);

// Writes n examples (pixels: n x shape.size() bytes 0..255) to `path`.
void write_shard(const std::string& path, const ShardFormat& f, ImageShape shape,
                 std::span<const std::uint8_t> pixels, std::span<const int32_t> labels);

}  // namespace dtrain::data
