// Hdf5Source: MNIST-style HDF5 shards read through parallel HDF5 (the MPI-IO driver).
//
// Each file holds an image dataset, uint8 (0..255) or float32 ([0, 1]), shaped [n, h, w] or
// [n, h, w, 1], and a label dataset of uint8, int32 or int64, shaped [n] or [n, 1]. A read
// selects the requested rows as a union of hyperslabs (contiguous ids become one block) and
// moves them with one H5Dread per file. Each rank opens the files on its own (the MPI-IO driver
// over MPI_COMM_SELF) and reads independently: ranks read at their own pace (async workers,
// prefetch threads), and no file operation is a collective that could interleave with the
// job's own collectives.
#pragma once

#include <mpi.h>

#include "data/hdf5_util.h"
#include "dtrain/data/example_source.h"

namespace dtrain::data {

class Hdf5Source final : public ExampleSource {
 public:
  struct Options {
    std::string images = "images";
    std::string labels = "labels";
    int num_classes = 10;
    std::vector<std::string> hints;  // MPI-IO hints KEY=VALUE
    std::size_t chunk_cache_bytes = std::size_t{64} << 20;
    bool labels_optional = false;  // files without the label dataset read as label -1
  };

  Hdf5Source(std::vector<std::string> files, Options options);
  ~Hdf5Source() override;

  int64_t size() const override { return index_.total(); }
  ImageShape image_shape() const override { return shape_; }
  std::vector<int64_t> unit_sizes() const override;
  std::string describe() const override;
  std::vector<std::size_t> read(std::span<const int64_t> ids, float* images,
                                int32_t* labels) override;

 private:
  struct File {
    std::string path;
    H5Handle file, images, labels, xfer;  // labels may be empty (labels_optional)
    bool float_images = false;
    int image_rank = 3, label_rank = 1;
    int64_t rows = 0;
  };
  void open_file(File& f, const H5Handle& fapl);
  void read_file(File& f, const std::vector<std::pair<int64_t, std::size_t>>& rows, float* images,
                 int32_t* labels);

  Options options_;
  std::vector<File> files_;
  ImageShape shape_{1, 0, 0};
  UnitIndex index_{{}};
  std::vector<std::uint8_t> bytes_;
  std::vector<float> floats_;
  std::vector<int64_t> label_buf_;
};

}  // namespace dtrain::data
