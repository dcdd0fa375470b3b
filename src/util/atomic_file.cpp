#include "dtrain/util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "dtrain/util/error.h"

namespace dtrain {

namespace {
// Best effort: a file system without fsync (or a directory that cannot be opened) still gets
// the rename, which is what makes the file appear whole.
void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}
}  // namespace

std::string staging_path(const std::string& path) {
  return path + ".tmp";
}

void publish_file(const std::string& path) {
  const std::string tmp = staging_path(path);
  sync_path(tmp, false);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  auto dir = std::filesystem::path(path).parent_path().string();
  sync_path(dir.empty() ? "." : dir, true);
}

}  // namespace dtrain
