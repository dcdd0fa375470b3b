// What `--version` prints: dtrain's version and commit and the libraries it runs on (MPI, UCX,
// oneDNN and HDF5 as they answer at run time; Protobuf and Boost as built), so that a site can
// tell which build a job used and report it with a bug.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dtrain {

// "PROGRAM (dtrain) 0.1.0, commit ..." and one line per library. Needs no MPI_Init (MPI allows
// MPI_Get_library_version before it), so `PROGRAM --version` runs without a launcher.
std::string version_text(const std::string& program);

// The same facts one by one, for the role table and the metrics JSON.
std::string dtrain_version();  // "0.1.0": CMake's project() version
std::string dtrain_commit();   // `git describe --always --dirty` of the tree built
std::vector<std::pair<std::string, std::string>> library_versions();  // {"MPI", "Open MPI v4.1.4"}
std::string own_loops();  // the x86-64 level dtrain's own loops run at here, and how chosen

}  // namespace dtrain
