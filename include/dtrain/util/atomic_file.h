// Files that appear whole or not at all. Writers write PATH.tmp, then publish it with
// publish_file(): a reader, or a job restarted after a kill, sees the old file or the complete
// new one, never a part of it.
#pragma once

#include <string>

namespace dtrain {

// The name a file is written under before it is published.
std::string staging_path(const std::string& path);

// Makes staging_path(path) durable (fsync), renames it to path, and makes the rename durable
// (fsync of the directory). Throws dtrain::Error naming both files if the rename fails.
void publish_file(const std::string& path);

}  // namespace dtrain
