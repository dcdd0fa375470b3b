// Opening a data set from what a user types: a directory, a glob, a file, or a comma-separated
// list of any of these, in one of the formats (IDX, HDF5, TFRecord), given or detected.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "dtrain/data/example_codec.h"
#include "dtrain/data/example_source.h"

namespace dtrain::data {

struct DatasetOptions {
  std::string paths;            // dir | glob | file | comma list
  std::string format = "auto";  // auto | idx | hdf5 | tfrecord | csv
  std::string features;         // --features spec (TFRecord feature / HDF5 dataset names)
  int num_classes = 10;
  bool skip_corrupt = false;
  std::vector<std::string> io_hints;
  bool collective = false;
  MPI_Comm comm = MPI_COMM_SELF;  // HDF5: ranks opening the files together (collective)
  bool labels_optional = false;   // inference: examples without labels read as label -1
};

// The files a path spec names, sorted within each directory/glob, in the order given.
// Throws DataError when a part matches nothing.
std::vector<std::string> expand_paths(const std::string& spec);

// "idx", "hdf5", "tfrecord" or "csv" from file names and magic bytes; throws DataError if unsure.
std::string detect_format(const std::vector<std::string>& files);

std::shared_ptr<ExampleSource> open_dataset(const DatasetOptions& options);

}  // namespace dtrain::data
