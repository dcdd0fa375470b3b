// Small RAII layer over the HDF5 C API: every hid_t is closed by its owner, errors become
// exceptions carrying HDF5's own description. HDF5 (the parallel build) is not thread-safe and
// calls MPI, so callers hold MpiLock (util/mpi_call.h) around HDF5 calls.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <string>
#include <utility>
#include <vector>

namespace dtrain::data {

class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& o) noexcept
      : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  H5Handle& operator=(H5Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and throws DataError naming `context` if HDF5 reports a failure: the last
  // writes of a file can fail here (a full disk), which a destructor could not report.
  void close(const std::string& context);

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Turns off HDF5's printing of error stacks (dtrain reports errors itself). Idempotent.
void quiet_hdf5_errors();
// The innermost message on HDF5's error stack, for error text ("" if none).
std::string hdf5_error_detail();
// Throws DataError("<context>: <HDF5 detail>") when id < 0; returns id otherwise.
hid_t h5_check(hid_t id, const std::string& context);

// A new (truncated) HDF5 file and an existing one opened read-only, by one process with the
// default driver; errors name the file.
H5Handle create_file(const std::string& path);
H5Handle open_file_readonly(const std::string& path);

// MPI_Info built from KEY=VALUE hints (--io-hint); freed on destruction.
class MpiInfo {
 public:
  explicit MpiInfo(const std::vector<std::string>& hints);
  ~MpiInfo();
  MpiInfo(const MpiInfo&) = delete;
  MpiInfo& operator=(const MpiInfo&) = delete;
  MPI_Info get() const { return info_; }

 private:
  MPI_Info info_ = MPI_INFO_NULL;
};

// A file-access property list using the MPI-IO driver over `comm` with the given hints.
H5Handle mpio_file_access(MPI_Comm comm, MPI_Info info);

// Text of a datatype for error messages: "uint8", "int64", "float32", "float64", ...
std::string h5_type_name(hid_t type);

// Scalar attributes on a file, group or dataset.
void write_string_attribute(hid_t obj, const char* name, const std::string& value);
void write_int_attribute(hid_t obj, const char* name, int64_t value);
void write_double_attribute(hid_t obj, const char* name, double value);
// Throw DataError (naming `where`) when the attribute is missing or of another kind.
std::string read_string_attribute(hid_t obj, const char* name, const std::string& where);
int64_t read_int_attribute(hid_t obj, const char* name, const std::string& where);
double read_double_attribute(hid_t obj, const char* name, const std::string& where);
bool has_attribute(hid_t obj, const char* name);

// A float32 dataset at `path` (intermediate groups created), shape as given.
void write_float_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                         const float* data);
void write_int64_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                         const int64_t* data);
// All values of an int64 dataset whose size is a multiple of `columns` (DataError otherwise).
std::vector<int64_t> read_int64_dataset(hid_t file, const std::string& path, int64_t columns,
                                        const std::string& file_name);
// The second dimension of a 2-D dataset (DataError naming file and dataset otherwise).
int64_t dataset_columns(hid_t file, const std::string& path, const std::string& file_name);
// Reads a float32 dataset whose shape must equal `shape` (DataError naming file and dataset).
void read_float_dataset(hid_t file, const std::string& path, const std::vector<int64_t>& shape,
                        float* out, const std::string& file_name);
bool has_link(hid_t file, const std::string& path);

}  // namespace dtrain::data
