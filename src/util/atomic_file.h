// Files that appear whole or not at all. Writers write PATH.tmp, then publish it with
// publish_file(): a reader, or a job restarted after a kill, sees the old file or the complete
// new one, never a part of it. A writer that fails calls discard_staged(), so that no partial
// file is left behind either.
#pragma once

#include <exception>
#include <string>

#include "dtrain/util/error.h"

namespace dtrain {

// The name a file is written under before it is published.
std::string staging_path(const std::string& path);

// Makes staging_path(path) durable (fsync), renames it to path, and makes the rename durable
// (fsync of the directory). Any failure is an Error naming the file and the system's reason,
// and the staged file is removed; the one failure tolerated is EINVAL from fsync of a
// directory, which FUSE file systems such as GlusterFS return (they make no directory durable
// that way: the rename itself is durable there once the call returns).
void publish_file(const std::string& path);

// Removes staging_path(path) if it exists (after a failed write). Never throws.
void discard_staged(const std::string& path) noexcept;

// The one way files are written: write(staging path), then publish; on any failure the staged
// file is removed and the error goes on to the caller.
template <typename WriteFn>
void write_atomically(const std::string& path, WriteFn&& write) {
  try {
    write(staging_path(path));
  } catch (const std::exception& e) {
    discard_staged(path);
    const std::string what = e.what();
    if (what.find(path) != std::string::npos) throw;
    throw Error("writing " + path + ": " + what);
  }
  publish_file(path);
}

}  // namespace dtrain
