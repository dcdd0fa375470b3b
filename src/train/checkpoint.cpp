#include "dtrain/train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/hdf5_util.h"
#include "dtrain/util/atomic_file.h"
#include "dtrain/util/error.h"

namespace dtrain::train {

namespace fs = std::filesystem;
using data::h5_check;
using data::H5Handle;

namespace {

constexpr const char* kFormat = "dtrain-checkpoint-v1";

}  // namespace

void write_checkpoint(const std::string& path, const nn::ParameterLayout& layout,
                      const TrainingState& s) {
  const std::string tmp = staging_path(path);
  {
    std::lock_guard lock(comm::mpi_mutex());
    H5Handle file = data::create_file(tmp);
    const hid_t f = file.get();
    data::write_string_attribute(f, "dtrain_format", kFormat);
    data::write_int_attribute(f, "global_step", s.global_step);
    data::write_double_attribute(f, "epoch", s.epoch);
    data::write_string_attribute(f, "model", s.model);
    data::write_string_attribute(f, "optimizer", s.optimizer);
    data::write_int_attribute(f, "optimizer_steps", s.optimizer_steps);
    data::write_string_attribute(f, "meta", s.meta.dump());
    data::write_string_attribute(
        f, "randomness",
        "counter-based: weights from (seed, layer), data order from (seed, epoch), "
        "dropout from (seed, global step, example id)");
    for (const auto& t : layout.tensors()) {
      data::write_float_dataset(f, "/params/" + t.name, t.shape, s.params.data() + t.offset);
    }
    for (const auto& [name, values] : s.optimizer_state) {
      for (const auto& t : layout.tensors()) {
        data::write_float_dataset(f, "/optimizer/" + name + "/" + t.name, t.shape,
                                  values.data() + t.offset);
      }
    }
    if (!s.worker_steps.empty()) {
      const hsize_t n = s.worker_steps.size();
      H5Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
      H5Handle d(h5_check(H5Dcreate2(f, "worker_steps", H5T_STD_I64LE, space.get(), H5P_DEFAULT,
                                     H5P_DEFAULT, H5P_DEFAULT),
                          tmp + ": worker_steps"),
                 H5Dclose);
      h5_check(
          H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.worker_steps.data()),
          tmp + ": worker_steps");
    }
    h5_check(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp + ": flush");
  }
  publish_file(path);
}

std::string read_model_spec(const std::string& path) {
  std::lock_guard lock(comm::mpi_mutex());
  if (!fs::is_regular_file(path)) throw DataError(path + ": no such checkpoint or model file");
  H5Handle file = data::open_file_readonly(path);
  return data::read_string_attribute(file.get(), "model", path);
}

TrainingState read_checkpoint(const std::string& path, const nn::ParameterLayout& layout) {
  std::lock_guard lock(comm::mpi_mutex());
  H5Handle file = data::open_file_readonly(path);
  const hid_t f = file.get();
  const std::string format = data::read_string_attribute(f, "dtrain_format", path);
  if (format != kFormat)
    throw DataError(path + ": not a dtrain checkpoint (format '" + format + "')");
  TrainingState s;
  s.global_step = data::read_int_attribute(f, "global_step", path);
  s.epoch = data::read_double_attribute(f, "epoch", path);
  s.model = data::read_string_attribute(f, "model", path);
  s.optimizer = data::read_string_attribute(f, "optimizer", path);
  s.optimizer_steps = data::read_int_attribute(f, "optimizer_steps", path);
  s.meta = nlohmann::json::parse(data::read_string_attribute(f, "meta", path));
  s.params.assign(layout.total(), 0.f);
  for (const auto& t : layout.tensors()) {
    data::read_float_dataset(f, "/params/" + t.name, t.shape, s.params.data() + t.offset, path);
  }
  // Optimizer state: every group under /optimizer.
  if (data::has_link(f, "/optimizer")) {
    H5Handle group(h5_check(H5Gopen2(f, "/optimizer", H5P_DEFAULT), path + ": /optimizer"),
                   H5Gclose);
    H5G_info_t info;
    H5Gget_info(group.get(), &info);
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      char name[256] = {};
      H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                         H5P_DEFAULT);
      std::vector<float> values(layout.total(), 0.f);
      for (const auto& t : layout.tensors()) {
        data::read_float_dataset(f, "/optimizer/" + std::string(name) + "/" + t.name, t.shape,
                                 values.data() + t.offset, path);
      }
      s.optimizer_state.emplace_back(name, std::move(values));
    }
  }
  if (data::has_link(f, "/worker_steps")) {
    H5Handle d(H5Dopen2(f, "/worker_steps", H5P_DEFAULT), H5Dclose);
    H5Handle space(H5Dget_space(d.get()), H5Sclose);
    s.worker_steps.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
    h5_check(
        H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.worker_steps.data()),
        path + ": worker_steps");
  }
  return s;
}

CheckpointDir::CheckpointDir(std::string dir, int keep)
    : dir_(std::move(dir)), keep_(std::max(1, keep)) {}

std::vector<std::string> CheckpointDir::list() const {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return {};
  static const std::regex name(R"(ckpt-(\d+)\.h5)");
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (std::regex_match(file, m, name)) found.emplace_back(std::stoll(m[1]), e.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [step, path] : found) out.push_back(path);
  return out;
}

std::optional<std::string> CheckpointDir::latest() const {
  auto all = list();
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::string CheckpointDir::path_for(int64_t step) const {
  char name[48];
  std::snprintf(name, sizeof name, "ckpt-%010lld.h5", static_cast<long long>(step));
  return (fs::path(dir_) / name).string();
}

void CheckpointDir::save(const nn::ParameterLayout& layout, const TrainingState& state) const {
  fs::create_directories(dir_);
  // A .tmp left by a job killed while writing is not a checkpoint: clear it away.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    if (e.path().extension() == ".tmp" && e.path().filename().string().starts_with("ckpt-"))
      fs::remove(e.path(), ec);
  }
  write_checkpoint(path_for(state.global_step), layout, state);
  auto all = list();
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep_) < all.size(); ++i) fs::remove(all[i]);
}

}  // namespace dtrain::train
