#include "dtrain/train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>

#include <nlohmann/json.hpp>

#include "data/hdf5_util.h"
#include "dtrain/util/error.h"
#include "util/atomic_file.h"
#include "util/mpi_call.h"

namespace dtrain::train {

namespace fs = std::filesystem;
using data::h5_check;
using data::H5Handle;

namespace {

constexpr const char* kFormat = "dtrain-checkpoint-v2";

void write_run_info(hid_t f, const RunInfo& r) {
  data::write_string_attribute(f, "mode", r.mode);
  data::write_int_attribute(f, "ranks", r.ranks);
  data::write_int_attribute(f, "num_ps", r.num_ps);
  data::write_int_attribute(f, "workers", r.workers);
  data::write_int_attribute(f, "seed", static_cast<int64_t>(r.seed));
  data::write_string_attribute(f, "options", nlohmann::json(r.options).dump());
  data::write_string_attribute(f, "precision", r.precision);
  if (!r.exchange.empty()) data::write_string_attribute(f, "exchange", r.exchange);
}

RunInfo read_run_info(hid_t f, const std::string& path) {
  RunInfo r;
  r.mode = data::read_string_attribute(f, "mode", path);
  r.ranks = static_cast<int>(data::read_int_attribute(f, "ranks", path));
  r.num_ps = static_cast<int>(data::read_int_attribute(f, "num_ps", path));
  r.workers = static_cast<int>(data::read_int_attribute(f, "workers", path));
  r.seed = static_cast<std::uint64_t>(data::read_int_attribute(f, "seed", path));
  if (data::has_attribute(f, "precision"))
    r.precision = data::read_string_attribute(f, "precision", path);
  if (data::has_attribute(f, "exchange"))
    r.exchange = data::read_string_attribute(f, "exchange", path);
  try {
    r.options = nlohmann::json::parse(data::read_string_attribute(f, "options", path))
                    .get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": attribute 'options' is damaged: " + e.what());
  }
  return r;
}

std::string shape_text(const data::ImageShape& s) {
  return std::to_string(s.c) + "," + std::to_string(s.h) + "," + std::to_string(s.w);
}

void write_row_splits(hid_t f, const std::vector<RowSplit>& splits) {
  if (splits.empty()) return;
  const std::size_t workers = splits.front().rows.size();
  std::vector<int64_t> table;
  for (const auto& c : splits) {
    table.push_back(c.from_step);
    table.insert(table.end(), c.rows.begin(), c.rows.end());
  }
  data::write_int64_dataset(
      f, "/row_splits", {static_cast<int64_t>(splits.size()), static_cast<int64_t>(workers + 1)},
      table.data());
}

std::vector<RowSplit> read_row_splits(hid_t f, const std::string& path) {
  std::vector<RowSplit> out;
  if (!data::has_link(f, "/row_splits")) return out;
  const int64_t columns = data::dataset_columns(f, "/row_splits", path);
  if (columns < 2) throw DataError(path + ": /row_splits has no worker columns");
  const auto table = data::read_int64_dataset(f, "/row_splits", columns, path);
  const auto width = static_cast<std::size_t>(columns);
  for (std::size_t i = 0; i + width <= table.size(); i += width)
    out.push_back({table[i],
                   {table.begin() + static_cast<std::ptrdiff_t>(i + 1),
                    table.begin() + static_cast<std::ptrdiff_t>(i + width)}});
  return out;
}

void write_counters(hid_t f, const TrainingState& s) {
  if (!s.worker_steps.empty()) {
    data::write_int64_dataset(f, "/worker_steps", {static_cast<int64_t>(s.worker_steps.size())},
                              s.worker_steps.data());
  }
  write_row_splits(f, s.row_splits);
  if (s.servers.empty()) return;
  std::vector<int64_t> rows;
  for (const auto& c : s.servers) {
    rows.insert(rows.end(), {static_cast<int64_t>(c.begin), static_cast<int64_t>(c.end),
                             c.pushes_applied, c.optimizer_steps});
  }
  data::write_int64_dataset(f, "/servers", {static_cast<int64_t>(s.servers.size()), 4},
                            rows.data());
}

void read_counters(hid_t f, const std::string& path, TrainingState& s) {
  s.row_splits = read_row_splits(f, path);
  if (data::has_link(f, "/worker_steps"))
    s.worker_steps = data::read_int64_dataset(f, "/worker_steps", 1, path);
  if (!data::has_link(f, "/servers")) return;
  const auto rows = data::read_int64_dataset(f, "/servers", 4, path);
  for (std::size_t i = 0; i + 3 < rows.size(); i += 4) {
    s.servers.push_back({static_cast<std::size_t>(rows[i]), static_cast<std::size_t>(rows[i + 1]),
                         rows[i + 2], rows[i + 3]});
  }
}

optim::NamedArrays read_optimizer_state(hid_t f, const std::string& path,
                                        const nn::ParameterLayout& layout) {
  optim::NamedArrays out;
  if (!data::has_link(f, "/optimizer")) return out;
  H5Handle group(h5_check(H5Gopen2(f, "/optimizer", H5P_DEFAULT), path + ": /optimizer"), H5Gclose);
  H5G_info_t info;
  h5_check(H5Gget_info(group.get(), &info), path + ": /optimizer");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    char name[256] = {};
    h5_check(H5Lget_name_by_idx(group.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                                H5P_DEFAULT),
             path + ": /optimizer");
    std::vector<float> values(layout.total(), 0.f);
    for (const auto& t : layout.tensors()) {
      data::read_float_dataset(f, "/optimizer/" + std::string(name) + "/" + t.name, t.shape,
                               values.data() + t.offset, path);
    }
    out.emplace_back(name, std::move(values));
  }
  return out;
}

data::ImageShape parse_shape(const std::string& text, const std::string& path) {
  data::ImageShape s;
  if (std::sscanf(text.c_str(), "%ld,%ld,%ld", &s.c, &s.h, &s.w) != 3 || s.size() <= 0)
    throw DataError(path + ": attribute input_shape '" + text + "' is not C,H,W");
  return s;
}

}  // namespace

void write_checkpoint(const std::string& path, const nn::ParameterLayout& layout,
                      const TrainingState& s) {
  write_atomically(path, [&](const std::string& tmp) {
    MpiLock lock(mpi_mutex());
    H5Handle file = data::create_file(tmp);
    const hid_t f = file.get();
    data::write_string_attribute(f, "dtrain_format", kFormat);
    data::write_int_attribute(f, "global_step", s.global_step);
    data::write_double_attribute(f, "epoch", s.epoch);
    data::write_string_attribute(f, "model", s.model);
    data::write_string_attribute(f, "input_shape", shape_text(s.input));
    data::write_string_attribute(f, "optimizer", optim::to_string(s.optimizer));
    data::write_int_attribute(f, "optimizer_steps", s.optimizer_steps);
    write_run_info(f, s.run);
    data::write_string_attribute(
        f, "randomness",
        "counter-based: weights from (seed, layer), data order from (seed, epoch), "
        "dropout from (seed, global step, example id)");
    for (const auto& t : layout.tensors())
      data::write_float_dataset(f, "/params/" + t.name, t.shape, s.params.data() + t.offset);
    for (const auto& [name, values] : s.optimizer_state) {
      for (const auto& t : layout.tensors()) {
        data::write_float_dataset(f, "/optimizer/" + name + "/" + t.name, t.shape,
                                  values.data() + t.offset);
      }
    }
    write_counters(f, s);
    h5_check(H5Fflush(f, H5F_SCOPE_GLOBAL), tmp + ": flush");
    file.close(tmp);
  });
}

std::string read_model_spec(const std::string& path) {
  MpiLock lock(mpi_mutex());
  if (!fs::is_regular_file(path)) throw DataError(path + ": no such checkpoint or model file");
  H5Handle file = data::open_file_readonly(path);
  return data::read_string_attribute(file.get(), "model", path);
}

RunInfo read_run_info(const std::string& path) {
  MpiLock lock(mpi_mutex());
  if (!fs::is_regular_file(path)) throw DataError(path + ": no such checkpoint");
  H5Handle file = data::open_file_readonly(path);
  return read_run_info(file.get(), path);
}

data::ImageShape read_input_shape(const std::string& path) {
  MpiLock lock(mpi_mutex());
  H5Handle file = data::open_file_readonly(path);
  return parse_shape(data::read_string_attribute(file.get(), "input_shape", path), path);
}

std::vector<RowSplit> read_row_splits(const std::string& path) {
  MpiLock lock(mpi_mutex());
  if (!fs::is_regular_file(path)) throw DataError(path + ": no such checkpoint");
  H5Handle file = data::open_file_readonly(path);
  auto splits = read_row_splits(file.get(), path);
  if (splits.empty())
    throw DataError(path + ": holds no row splits (only a --balance speed run records them)");
  return splits;
}

TrainingState read_checkpoint(const std::string& path, const nn::ParameterLayout& layout) {
  MpiLock lock(mpi_mutex());
  H5Handle file = data::open_file_readonly(path);
  const hid_t f = file.get();
  const std::string format = data::read_string_attribute(f, "dtrain_format", path);
  if (format != kFormat)
    throw DataError(path + ": not a dtrain checkpoint of this version (format '" + format + "')");
  TrainingState s;
  s.global_step = data::read_int_attribute(f, "global_step", path);
  s.epoch = data::read_double_attribute(f, "epoch", path);
  s.model = data::read_string_attribute(f, "model", path);
  s.input = parse_shape(data::read_string_attribute(f, "input_shape", path), path);
  const std::string optimizer = data::read_string_attribute(f, "optimizer", path);
  s.optimizer = optimizer == "sgd" ? optim::OptimizerKind::kSgd : optim::OptimizerKind::kAdam;
  s.optimizer_steps = data::read_int_attribute(f, "optimizer_steps", path);
  s.run = read_run_info(f, path);
  s.params.assign(layout.total(), 0.f);
  for (const auto& t : layout.tensors())
    data::read_float_dataset(f, "/params/" + t.name, t.shape, s.params.data() + t.offset, path);
  s.optimizer_state = read_optimizer_state(f, path, layout);
  read_counters(f, path, s);
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
