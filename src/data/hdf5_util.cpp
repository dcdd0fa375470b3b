#include "dtrain/data/hdf5_util.h"

#include "dtrain/util/error.h"

namespace dtrain::data {

void quiet_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

std::string hdf5_error_detail() {
  std::string detail;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        auto* s = static_cast<std::string*>(out);
        if (n == 0 && e->desc) *s = e->desc;  // the outermost, most specific to the call
        return 0;
      },
      &detail);
  H5Eclear2(H5E_DEFAULT);
  return detail;
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

}  // namespace dtrain::data
