#include "data/shard_writer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/hdf5_util.h"
#include "data/tfrecord.h"
#include "dtrain/util/error.h"
#include "util/atomic_file.h"
#include "util/mpi_call.h"

namespace dtrain::data {

namespace {

// A uint8 dataset of the given dimensions, chunked by `rows_per_chunk` rows (gzip-filtered when
// compress), holding `data`.
H5Handle write_u8_dataset(hid_t file, const std::string& path, const char* name,
                          std::vector<hsize_t> dims, hsize_t rows_per_chunk, bool compress,
                          const std::uint8_t* data) {
  const hsize_t n = dims[0];
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (n > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(n, rows_per_chunk));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (compress) H5Pset_deflate(dcpl.get(), 4);
  }
  H5Handle d(h5_check(H5Dcreate2(file, name, H5T_STD_U8LE, space.get(), H5P_DEFAULT, dcpl.get(),
                                 H5P_DEFAULT),
                      path + ": create /" + name),
             H5Dclose);
  if (n > 0) {
    h5_check(H5Dwrite(d.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
             path + ": write /" + name);
  }
  return d;
}

void write_hdf5(const std::string& path, bool compress, ImageShape shape,
                std::span<const std::uint8_t> pixels, std::span<const int32_t> labels) {
  MpiLock lock(mpi_mutex());
  const auto n = static_cast<hsize_t>(labels.size());
  H5Handle file = create_file(path);
  write_string_attribute(file.get(), "dtrain_format", "mnist-shard-v1");
  write_string_attribute(file.get(), "description",
                         "MNIST-style examples: /images uint8 [n, height, width] (0..255), "
                         "/labels uint8 [n] (class index)");

  // Chunks of up to 1024 images: large enough for throughput, small enough for random reads.
  H5Handle images = write_u8_dataset(
      file.get(), path, "images", {n, static_cast<hsize_t>(shape.h), static_cast<hsize_t>(shape.w)},
      1024, compress, pixels.data());
  write_string_attribute(images.get(), "description", "images, uint8 0..255, [n, height, width]");
  write_int_attribute(images.get(), "height", shape.h);
  write_int_attribute(images.get(), "width", shape.w);
  std::vector<std::uint8_t> l(labels.begin(), labels.end());
  H5Handle lab = write_u8_dataset(file.get(), path, "labels", {n}, 65536, compress, l.data());
  write_string_attribute(lab.get(), "description", "labels, uint8 class index, [n]");
  h5_check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), path + ": flush");
  lab.reset();
  images.reset();
  file.close(path);
}

void write_tfrecord(const std::string& path, const ShardFormat& f, ImageShape shape,
                    std::span<const std::uint8_t> pixels, std::span<const int32_t> labels) {
  TFRecordWriter w(path, f.compress);
  const auto px = static_cast<std::size_t>(shape.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    w.write(encode_example(pixels.subspan(i * px, px), labels[i], f.layout, shape));
  }
  w.close();
}

void write_csv(const std::string& path, ImageShape shape, std::span<const std::uint8_t> pixels,
               std::span<const int32_t> labels) {
  std::ofstream out(path);
  if (!out) throw DataError(path + ": cannot create");
  const auto px = static_cast<std::size_t>(shape.size());
  std::string line;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    line = std::to_string(labels[i]);
    for (std::size_t j = 0; j < px; ++j) {
      line += ',';
      line += std::to_string(pixels[i * px + j]);
    }
    line += '\n';
    out << line;
  }
  out.close();
  if (!out) throw DataError(path + ": write failed");
}

}  // namespace

std::string shard_name(const ShardFormat& f, int partition) {
  char name[32];
  std::snprintf(name, sizeof name, "part-%05d", partition);
  if (f.format == Format::kHdf5) return std::string(name) + ".h5";
  if (f.format == Format::kTfrecord)
    return std::string(name) + (f.compress ? ".tfrecord.gz" : ".tfrecord");
  return std::string(name) + ".csv";
}

void write_shard(const std::string& path, const ShardFormat& f, ImageShape shape,
                 std::span<const std::uint8_t> pixels, std::span<const int32_t> labels) {
  write_atomically(path, [&](const std::string& tmp) {
    if (f.format == Format::kHdf5) {
      write_hdf5(tmp, f.compress, shape, pixels, labels);
    } else if (f.format == Format::kTfrecord) {
      write_tfrecord(tmp, f, shape, pixels, labels);
    } else if (f.format == Format::kCsv) {
      write_csv(tmp, shape, pixels, labels);
    } else {
      throw OptionError("--format: '" + to_string(f.format) + "' (expected hdf5, tfrecord or csv)");
    }
  });
}

}  // namespace dtrain::data
