#include "data/hdf5_util.h"

#include <cstring>

#include "dtrain/util/error.h"
#include "util/text.h"

namespace dtrain::data {

void quiet_hdf5_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string hdf5_error_detail() {
  // The outermost message says what failed in terms of the call; a system error further down
  // (a full disk, a lost file system) says why.
  struct Found {
    std::string outer, system;
  } found;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        auto* f = static_cast<Found*>(out);
        if (!e->desc) return 0;
        const std::string desc = e->desc;
        if (n == 0) f->outer = desc;
        const auto at = desc.find("error message = '");
        if (at != std::string::npos && f->system.empty()) {
          const auto begin = at + 17, end = desc.find('\'', begin);
          f->system = desc.substr(begin, end == std::string::npos ? end : end - begin);
        }
        return 0;
      },
      &found);
  H5Eclear2(H5E_DEFAULT);
  if (found.system.empty() || found.outer.find(found.system) != std::string::npos)
    return found.outer;
  return found.outer + " (" + found.system + ")";
}

hid_t h5_check(hid_t id, const std::string& context) {
  if (id < 0) {
    const std::string detail = hdf5_error_detail();
    throw DataError(context + (detail.empty() ? "" : ": " + detail));
  }
  return id;
}

MpiInfo::MpiInfo(const std::vector<std::string>& hints) {
  if (hints.empty()) return;
  MPI_Info_create(&info_);
  for (const auto& h : hints) {
    const auto eq = h.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == h.size()) {
      MPI_Info_free(&info_);
      throw OptionError("--io-hint: '" + h + "' is not of the form KEY=VALUE");
    }
    MPI_Info_set(info_, h.substr(0, eq).c_str(), h.substr(eq + 1).c_str());
  }
}

MpiInfo::~MpiInfo() {
  if (info_ != MPI_INFO_NULL) MPI_Info_free(&info_);
}

H5Handle mpio_file_access(MPI_Comm comm, MPI_Info info) {
  H5Handle fapl(h5_check(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate"), H5Pclose);
  h5_check(H5Pset_fapl_mpio(fapl.get(), comm, info), "H5Pset_fapl_mpio");
  return fapl;
}

std::string h5_type_name(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t bits = H5Tget_size(type) * 8;
  if (cls == H5T_INTEGER) {
    return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
  }
  if (cls == H5T_FLOAT) return "float" + std::to_string(bits);
  if (cls == H5T_STRING) return "string";
  return "HDF5 class " + std::to_string(static_cast<int>(cls));
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.size() + 1);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(h5_check(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         std::string("attribute ") + name),
                H5Aclose);
  h5_check(H5Awrite(attr.get(), type.get(), value.c_str()), std::string("attribute ") + name);
}

namespace {
template <typename T>
void write_scalar_attribute(hid_t obj, const char* name, hid_t file_type, hid_t mem_type, T value) {
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(h5_check(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         std::string("attribute ") + name),
                H5Aclose);
  h5_check(H5Awrite(attr.get(), mem_type, &value), std::string("attribute ") + name);
}

template <typename T>
T read_scalar_attribute(hid_t obj, const char* name, hid_t mem_type, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) throw DataError(where + ": attribute '" + name + "' is missing");
  H5Handle attr(h5_check(H5Aopen(obj, name, H5P_DEFAULT), where + ": attribute " + name), H5Aclose);
  T value{};
  h5_check(H5Aread(attr.get(), mem_type, &value), where + ": attribute " + name);
  return value;
}
}  // namespace

void write_int_attribute(hid_t obj, const char* name, int64_t value) {
  write_scalar_attribute(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, value);
}

void write_double_attribute(hid_t obj, const char* name, double value) {
  write_scalar_attribute(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, value);
}

int64_t read_int_attribute(hid_t obj, const char* name, const std::string& where) {
  return read_scalar_attribute<int64_t>(obj, name, H5T_NATIVE_INT64, where);
}

double read_double_attribute(hid_t obj, const char* name, const std::string& where) {
  return read_scalar_attribute<double>(obj, name, H5T_NATIVE_DOUBLE, where);
}

bool has_attribute(hid_t obj, const char* name) {
  return H5Aexists(obj, name) > 0;
}

std::string read_string_attribute(hid_t obj, const char* name, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) throw DataError(where + ": attribute '" + name + "' is missing");
  H5Handle attr(h5_check(H5Aopen(obj, name, H5P_DEFAULT), where + ": attribute " + name), H5Aclose);
  H5Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw DataError(where + ": attribute '" + name + "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    char* value = nullptr;
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    h5_check(H5Aread(attr.get(), mem.get(), &value), where + ": attribute " + name);
    std::string out = value ? value : "";
    H5free_memory(value);
    return out;
  }
  std::string value(H5Tget_size(type.get()), '\0');
  h5_check(H5Aread(attr.get(), type.get(), value.data()), where + ": attribute " + name);
  value.resize(std::strlen(value.c_str()));
  return value;
}

namespace {
void write_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                   hid_t file_type, hid_t mem_type, const void* data) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Handle d(h5_check(H5Dcreate2(file, path.c_str(), file_type, space.get(), lcpl.get(),
                                 H5P_DEFAULT, H5P_DEFAULT),
                      "create " + path),
             H5Dclose);
  h5_check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + path);
}
}  // namespace

void write_float_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                         const float* data) {
  write_dataset(file, path, shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data);
}

void write_int64_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                         const int64_t* data) {
  write_dataset(file, path, shape, H5T_STD_I64LE, H5T_NATIVE_INT64, data);
}

std::vector<int64_t> read_int64_dataset(hid_t file, const std::string& path, int64_t columns,
                                        const std::string& file_name) {
  if (!has_link(file, path)) throw DataError(file_name + ": no dataset " + path);
  H5Handle d(h5_check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), file_name + ": open " + path),
             H5Dclose);
  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  const auto n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || n % columns != 0)
    throw DataError(file_name + ": dataset " + path + " has a shape this reader does not know");
  std::vector<int64_t> values(static_cast<std::size_t>(n));
  h5_check(H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
           file_name + ": read " + path);
  return values;
}

int64_t dataset_columns(hid_t file, const std::string& path, const std::string& file_name) {
  if (!has_link(file, path)) throw DataError(file_name + ": no dataset " + path);
  H5Handle d(h5_check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), file_name + ": open " + path),
             H5Dclose);
  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  hsize_t dims[2] = {};
  if (H5Sget_simple_extent_ndims(space.get()) != 2 ||
      H5Sget_simple_extent_dims(space.get(), dims, nullptr) != 2)
    throw DataError(file_name + ": dataset " + path + " is not 2-D");
  return static_cast<int64_t>(dims[1]);
}

bool has_link(hid_t file, const std::string& path) {
  // Check each component: H5Lexists fails (not just returns 0) when a parent group is missing.
  std::size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos) {
    if (H5Lexists(file, path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Lexists(file, path.c_str(), H5P_DEFAULT) > 0;
}

void read_float_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                        float* out, const std::string& file_name) {
  if (!has_link(file, path)) throw DataError(file_name + ": no dataset " + path);
  H5Handle d(h5_check(H5Dopen2(file, path.c_str(), H5P_DEFAULT), file_name + ": open " + path),
             H5Dclose);
  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  const std::vector<int64_t> found(dims.begin(), dims.end());
  if (found != shape) {
    throw DataError(file_name + ": dataset " + path + " has shape " + bracketed(found) +
                    ", the model needs " + bracketed(shape));
  }
  h5_check(H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out),
           file_name + ": read " + path);
}

void H5Handle::close(const std::string& context) {
  const hid_t id = std::exchange(id_, H5I_INVALID_HID);
  if (id >= 0 && closer_ && closer_(id) < 0) {
    const std::string detail = hdf5_error_detail();
    throw DataError(context + ": close failed" + (detail.empty() ? "" : ": " + detail));
  }
}

H5Handle create_file(const std::string& path) {
  quiet_hdf5_errors();
  return H5Handle(
      h5_check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), path + ": create"),
      H5Fclose);
}

H5Handle open_file_readonly(const std::string& path) {
  quiet_hdf5_errors();
  return H5Handle(
      h5_check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), path + ": cannot open as HDF5"),
      H5Fclose);
}

}  // namespace dtrain::data
