#include "train/local_store.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <tuple>

#include "dtrain/util/error.h"
#include "util/atomic_file.h"

namespace dtrain::train {

namespace fs = std::filesystem;

namespace {

std::string step_dir_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%010lld", static_cast<long long>(step));
  return name;
}

// The step of a "step-<S>" directory, or -1.
int64_t step_of(const fs::path& dir) {
  static const std::regex pattern(R"(step-(\d{1,18}))");
  std::smatch m;
  const std::string name = dir.filename().string();
  return std::regex_match(name, m, pattern) ? std::stoll(m[1]) : -1;
}

void write_file(const std::string& path, const std::vector<char>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw Error("cannot create " + path + ": " + std::strerror(errno));
  const std::size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int err = errno;
  if (std::fclose(f) != 0 || n != bytes.size())
    throw Error("cannot write " + path + ": " + std::strerror(n != bytes.size() ? err : errno));
}

}  // namespace

LocalStore::LocalStore(const std::string& dir, const std::string& fingerprint)
    : root_((fs::path(dir) / ("dtrain-" + fingerprint)).string()) {
  std::error_code ec;
  dir_is_ours_ = !fs::exists(dir, ec);
}

LocalStore::~LocalStore() {
  if (reached_fd_ >= 0) ::close(reached_fd_);
}

std::string LocalStore::path_for(int64_t step, int writer, const std::string& kind,
                                 bool copy) const {
  const std::string name =
      "r" + std::to_string(writer) + "." + kind + (copy ? ".copy" : "") + ".dtl";
  return (fs::path(root_) / step_dir_name(step) / name).string();
}

std::vector<LocalStore::Found> LocalStore::list() const {
  static const std::regex part(R"(r(\d{1,9})\.(state|params)(\.copy)?\.dtl)");
  std::vector<Found> found;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(root_, ec)) {
    const int64_t step = step_of(d.path());
    if (step < 0) continue;
    std::error_code ec2;
    for (const auto& f : fs::directory_iterator(d.path(), ec2)) {
      std::smatch m;
      const std::string name = f.path().filename().string();
      if (std::regex_match(name, m, part))
        found.push_back({step, std::stoi(m[1]), m[2], m[3].matched, f.path().string()});
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(b.step, a.writer, a.kind, a.copy) < std::tie(a.step, b.writer, b.kind, b.copy);
  });
  return found;
}

CheckpointPart LocalStore::read(const Found& f) const {
  std::ifstream in(f.path, std::ios::binary);
  if (!in) throw DataError(f.path + ": cannot open: " + std::strerror(errno));
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  CheckpointPart p = decode(bytes.data(), bytes.size(), f.path);
  if (p.step != f.step || p.writer != f.writer)
    throw DataError(f.path + ": holds step " + std::to_string(p.step) + " of rank " +
                    std::to_string(p.writer) + ", not what its name says");
  if (root_.find("dtrain-" + p.fingerprint) == std::string::npos)
    throw DataError(f.path + ": another job's part (fingerprint " + p.fingerprint + ")");
  return p;
}

void LocalStore::write(int64_t step, int writer, const std::string& kind, bool copy,
                       const std::vector<char>& bytes) {
  const std::string path = path_for(step, writer, kind, copy);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec)
    throw Error("cannot create " + fs::path(path).parent_path().string() + ": " + ec.message());
  write_atomically(path, [&](const std::string& tmp) { write_file(tmp, bytes); });
  written_[{writer, copy}].insert(step);
  prune(writer, copy);
}

// Per series (a writer's own parts, or a partner's copies of them), not per directory: a
// partner's copy of step S lands up to one interval after the writer's own part of S, so
// pruning the others' files by this process's newest steps would leave no step whole.
void LocalStore::prune(int writer, bool copy) {
  auto& steps = written_[{writer, copy}];
  const std::size_t keep = copy ? kCopiesKept : kOwnKept;
  if (steps.size() <= keep) return;
  const int64_t keep_from = *std::prev(steps.end(), static_cast<std::ptrdiff_t>(keep));
  std::error_code ec;
  for (const auto& f : list()) {
    if (f.writer != writer || f.copy != copy || f.step >= keep_from) continue;
    fs::remove(f.path, ec);
    fs::remove(fs::path(f.path).parent_path(), ec);  // the step's directory, once empty
  }
  steps.erase(steps.begin(), steps.lower_bound(keep_from));
}

void LocalStore::record_reached(int rank, int64_t step, int64_t interval) {
  if (reached_fd_ < 0) {
    std::error_code ec;
    fs::create_directories(root_, ec);
    const std::string path = (fs::path(root_) / ("reached-" + std::to_string(rank))).string();
    reached_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (reached_fd_ < 0) return;  // a store that cannot take it loses only this figure
  }
  char text[48];
  const int n = std::snprintf(text, sizeof text, "%020lld %020lld", static_cast<long long>(step),
                              static_cast<long long>(interval));
  if (::pwrite(reached_fd_, text, static_cast<std::size_t>(n), 0) < 0) return;
}

LocalStore::Reached LocalStore::reached() const {
  Reached newest;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(root_, ec)) {
    if (!f.path().filename().string().starts_with("reached-")) continue;
    std::ifstream in(f.path());
    long long step = -1, interval = -1;
    if (!(in >> step)) continue;
    if (!(in >> interval)) interval = -1;
    newest.merge({step, interval});
  }
  return newest;
}

std::uint64_t LocalStore::bytes_used() const {
  std::uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root_, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

void LocalStore::remove_all() const {
  std::error_code ec;
  fs::remove_all(root_, ec);
  // Fails while another job's (or another rank's) files are still there: then it stays.
  if (dir_is_ours_) fs::remove(fs::path(root_).parent_path(), ec);
}

std::string LocalStore::describe(const std::string& dir) {
  fs::path p = dir;
  std::error_code ec;
  while (!p.empty() && !fs::exists(p, ec)) p = p.parent_path();
  struct statfs st {};
  if (p.empty() || ::statfs(p.c_str(), &st) != 0) return "unknown file system";
  const double free_mb = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_bsize) / 1e6;
  const bool tmpfs = st.f_type == 0x01021994;  // TMPFS_MAGIC
  char text[96];
  std::snprintf(text, sizeof text, "%s, %.0f MB free%s", tmpfs ? "tmpfs" : "disk", free_mb,
                tmpfs ? " (counts against this node's memory)" : "");
  return text;
}

}  // namespace dtrain::train
