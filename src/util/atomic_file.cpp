#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "dtrain/util/error.h"

namespace dtrain {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw Error("cannot " + what + " " + path + ": " + std::strerror(err));
}

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("fsync", path, err);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) fail("fsync directory", dir, err);
}

}  // namespace

std::string staging_path(const std::string& path) {
  return path + ".tmp";
}

void discard_staged(const std::string& path) noexcept {
  std::error_code ec;
  std::filesystem::remove(staging_path(path), ec);
}

void publish_file(const std::string& path) {
  const std::string tmp = staging_path(path);
  try {
    sync_file(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename " + tmp + " to", path, errno);
  } catch (...) {
    discard_staged(path);
    throw;
  }
  const auto dir = std::filesystem::path(path).parent_path().string();
  sync_directory(dir.empty() ? "." : dir);
}

}  // namespace dtrain
