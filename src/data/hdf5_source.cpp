#include "data/hdf5_source.h"

#include <algorithm>
#include <filesystem>

#include "dtrain/util/error.h"
#include "util/mpi_call.h"
#include "util/text.h"

namespace dtrain::data {

namespace {

std::vector<hsize_t> dataset_dims(hid_t dset) {
  H5Handle space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

}  // namespace

Hdf5Source::Hdf5Source(std::vector<std::string> files, Options options)
    : options_(std::move(options)) {
  if (files.empty()) throw DataError("no HDF5 files given");
  MpiLock lock(mpi_mutex());
  quiet_hdf5_errors();
  const MpiInfo info(options_.hints);
  const H5Handle fapl = mpio_file_access(MPI_COMM_SELF, info.get());
  files_.resize(files.size());
  std::vector<int64_t> sizes;
  for (std::size_t i = 0; i < files.size(); ++i) {
    files_[i].path = files[i];
    open_file(files_[i], fapl);
    sizes.push_back(files_[i].rows);
  }
  index_ = UnitIndex(sizes);
  if (index_.total() == 0) throw DataError(describe() + ": no examples");
}

Hdf5Source::~Hdf5Source() {
  MpiLock lock(mpi_mutex());
  files_.clear();
}

void Hdf5Source::open_file(File& f, const H5Handle& fapl) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(f.path, ec)) throw DataError(f.path + ": no such file");
  if (std::filesystem::file_size(f.path, ec) == 0)
    throw DataError(f.path + ": empty file (expected HDF5)");
  f.file = H5Handle(h5_check(H5Fopen(f.path.c_str(), H5F_ACC_RDONLY, fapl.get()),
                             f.path + ": cannot open as HDF5 (not an HDF5 file, or damaged)"),
                    H5Fclose);
  H5Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), 12421, options_.chunk_cache_bytes, 1.0);
  auto open = [&](const std::string& name, const char* role) {
    if (H5Lexists(f.file.get(), name.c_str(), H5P_DEFAULT) <= 0) {
      hdf5_error_detail();
      throw DataError(f.path + ": no " + role + " dataset '/" + name +
                      "' (map names with --features " + role + "=NAME)");
    }
    return H5Handle(
        h5_check(H5Dopen2(f.file.get(), name.c_str(), dapl.get()), f.path + ": open /" + name),
        H5Dclose);
  };
  f.images = open(options_.images, "image");
  const bool unlabelled = options_.labels_optional &&
                          H5Lexists(f.file.get(), options_.labels.c_str(), H5P_DEFAULT) <= 0;
  if (!unlabelled) f.labels = open(options_.labels, "label");

  const auto idims = dataset_dims(f.images.get());
  const bool rank3 = idims.size() == 3;
  const bool rank4 = idims.size() == 4 && idims[3] == 1;
  if (!rank3 && !rank4) {
    throw DataError(f.path + ": dataset /" + options_.images + " has shape " + bracketed(idims) +
                    "; expected [n, height, width] or [n, height, width, 1]");
  }
  const ImageShape shape{1, static_cast<int64_t>(idims[1]), static_cast<int64_t>(idims[2])};
  if (shape_.h == 0) shape_ = shape;
  if (!(shape == shape_)) {
    throw DataError(f.path + ": images are " + std::to_string(shape.h) + "x" +
                    std::to_string(shape.w) + " but earlier files hold " +
                    std::to_string(shape_.h) + "x" + std::to_string(shape_.w));
  }
  f.image_rank = static_cast<int>(idims.size());
  f.rows = static_cast<int64_t>(idims[0]);
  {
    H5Handle type(H5Dget_type(f.images.get()), H5Tclose);
    const bool u8 = H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 1 &&
                    H5Tget_sign(type.get()) == H5T_SGN_NONE;
    const bool f32 = H5Tget_class(type.get()) == H5T_FLOAT && H5Tget_size(type.get()) == 4;
    if (!u8 && !f32) {
      throw DataError(f.path + ": dataset /" + options_.images + " has type " +
                      h5_type_name(type.get()) + "; expected uint8 (0..255) or float32 ([0, 1])");
    }
    f.float_images = f32;
  }
  f.xfer = H5Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(f.xfer.get(), H5FD_MPIO_INDEPENDENT);
  if (unlabelled) return;
  const auto ldims = dataset_dims(f.labels.get());
  if (!(ldims.size() == 1 || (ldims.size() == 2 && ldims[1] == 1)) || ldims[0] != idims[0]) {
    throw DataError(f.path + ": dataset /" + options_.labels + " has shape " + bracketed(ldims) +
                    "; expected [" + std::to_string(idims[0]) + "] to match " + bracketed(idims) +
                    " images");
  }
  f.label_rank = static_cast<int>(ldims.size());
  {
    H5Handle type(H5Dget_type(f.labels.get()), H5Tclose);
    const auto cls = H5Tget_class(type.get());
    const auto size = H5Tget_size(type.get());
    const bool unsigned_ = H5Tget_sign(type.get()) == H5T_SGN_NONE;
    const bool ok = cls == H5T_INTEGER && ((size == 1 && unsigned_) || (size == 4 && !unsigned_) ||
                                           (size == 8 && !unsigned_));
    if (!ok) {
      throw DataError(f.path + ": dataset /" + options_.labels + " has type " +
                      h5_type_name(type.get()) + "; expected uint8, int32 or int64");
    }
  }
}

std::vector<int64_t> Hdf5Source::unit_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& f : files_) sizes.push_back(f.rows);
  return sizes;
}

std::string Hdf5Source::describe() const {
  if (files_.size() == 1) return files_[0].path;
  return files_.front().path + " ... " + files_.back().path + " (" + std::to_string(files_.size()) +
         " HDF5 files)";
}

void Hdf5Source::read_file(File& f, const std::vector<std::pair<int64_t, std::size_t>>& rows,
                           float* images, int32_t* labels) {
  const int64_t px = shape_.size();
  const auto n = static_cast<hsize_t>(rows.size());
  const bool labelled = static_cast<bool>(f.labels);
  H5Handle ispace(H5Dget_space(f.images.get()), H5Sclose);
  H5Handle lspace(labelled ? H5Dget_space(f.labels.get()) : H5Screate(H5S_NULL), H5Sclose);
  H5Sselect_none(ispace.get());
  H5Sselect_none(lspace.get());
  // Contiguous local rows become one hyperslab block each.
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t j = i + 1;
    while (j < rows.size() && rows[j].first == rows[j - 1].first + 1) ++j;
    const hsize_t start[4] = {static_cast<hsize_t>(rows[i].first), 0, 0, 0};
    const hsize_t count[4] = {static_cast<hsize_t>(j - i), static_cast<hsize_t>(shape_.h),
                              static_cast<hsize_t>(shape_.w), 1};
    H5Sselect_hyperslab(ispace.get(), H5S_SELECT_OR, start, nullptr, count, nullptr);
    const hsize_t lcount[2] = {static_cast<hsize_t>(j - i), 1};
    if (labelled) H5Sselect_hyperslab(lspace.get(), H5S_SELECT_OR, start, nullptr, lcount, nullptr);
    i = j;
  }
  const hsize_t mem_images = std::max<hsize_t>(1, n * static_cast<hsize_t>(px)),
                mem_labels = std::max<hsize_t>(1, n);
  H5Handle imem(H5Screate_simple(1, &mem_images, nullptr), H5Sclose),
      lmem(H5Screate_simple(1, &mem_labels, nullptr), H5Sclose);
  if (n == 0) {
    H5Sselect_none(imem.get());
    H5Sselect_none(lmem.get());
  }
  const std::string where = f.path + ": reading " + std::to_string(n) + " examples";
  label_buf_.resize(mem_labels);
  void* image_buf;
  if (f.float_images) {
    floats_.resize(mem_images);
    image_buf = floats_.data();
  } else {
    bytes_.resize(mem_images);
    image_buf = bytes_.data();
  }
  h5_check(H5Dread(f.images.get(), f.float_images ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8, imem.get(),
                   ispace.get(), f.xfer.get(), image_buf),
           where + " from /" + options_.images);
  if (labelled) {
    h5_check(H5Dread(f.labels.get(), H5T_NATIVE_INT64, lmem.get(), lspace.get(), f.xfer.get(),
                     label_buf_.data()),
             where + " from /" + options_.labels);
  } else {
    std::fill(label_buf_.begin(), label_buf_.end(), -1);
  }
  constexpr float kScale = 1.0f / 255.0f;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    float* out = images + static_cast<int64_t>(rows[i].second) * px;
    if (f.float_images) {
      const float* in = floats_.data() + static_cast<int64_t>(i) * px;
      for (int64_t k = 0; k < px; ++k) {
        if (!(in[k] >= 0.f && in[k] <= 1.f)) {
          throw DataError(f.path + ": /" + options_.images + " row " +
                          std::to_string(rows[i].first) + " has a float pixel outside [0, 1]");
        }
        out[k] = in[k];
      }
    } else {
      const std::uint8_t* in = bytes_.data() + static_cast<int64_t>(i) * px;
      for (int64_t k = 0; k < px; ++k) out[k] = static_cast<float>(in[k]) * kScale;
    }
    const int64_t y = label_buf_[i];
    if ((y < 0 && labelled) || y >= options_.num_classes) {
      throw DataError(f.path + ": /" + options_.labels + " row " + std::to_string(rows[i].first) +
                      " has label " + std::to_string(y) + ", outside [0, " +
                      std::to_string(options_.num_classes) + ")");
    }
    labels[rows[i].second] = static_cast<int32_t>(y);
  }
}

std::vector<std::size_t> Hdf5Source::read(std::span<const int64_t> ids, float* images,
                                          int32_t* labels) {
  std::vector<std::vector<std::pair<int64_t, std::size_t>>> per_file(files_.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int64_t unit = index_.unit_of(ids[i]);
    per_file[static_cast<std::size_t>(unit)].emplace_back(ids[i] - index_.start(unit), i);
  }
  MpiLock lock(mpi_mutex());
  for (std::size_t u = 0; u < files_.size(); ++u) {
    auto& rows = per_file[u];
    if (rows.empty()) continue;
    std::sort(rows.begin(), rows.end());
    read_file(files_[u], rows, images, labels);
  }
  return {};
}

}  // namespace dtrain::data
