// Opening a data set from what a user types: a directory, a glob, a file, or a comma-separated
// list of any of these, in one of the formats (IDX, HDF5, TFRecord, CSV), given or detected.
// Every rank opens its data on its own (HDF5 files on MPI_COMM_SELF): opening and closing
// files is never a collective call, so it cannot interleave with the job's collectives.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dtrain/data/example_source.h"

namespace dtrain::data {

enum class Format { kAuto, kIdx, kHdf5, kTfrecord, kCsv };
std::string to_string(Format f);  // "auto", "idx", "hdf5", "tfrecord", "csv"

struct DatasetOptions {
  std::string paths;              // dir | glob | file | comma list
  Format format = Format::kAuto;  // kAuto: detected from names and magic bytes
  std::string features;           // --features spec (TFRecord feature / HDF5 dataset names)
  int num_classes = 10;
  bool skip_corrupt = false;
  std::vector<std::string> io_hints;  // MPI-IO hints for HDF5 files
  bool labels_optional = false;       // inference: examples without labels read as label -1
};

// The files a path spec names, sorted within each directory/glob, in the order given.
// Throws DataError when a part matches nothing.
std::vector<std::string> expand_paths(const std::string& spec);

// The format of the files from their names and magic bytes; throws DataError if unsure.
Format detect_format(const std::vector<std::string>& files);

std::shared_ptr<ExampleSource> open_dataset(const DatasetOptions& options);

}  // namespace dtrain::data
