#include "util/version.h"

#include <H5public.h>
#include <dlfcn.h>
#include <google/protobuf/stubs/common.h>
#include <mpi.h>

#include <algorithm>

#include <boost/version.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "util/isa_level.h"

#include "dtrain_commit.h"  // DTRAIN_COMMIT, written at build time (util/commit_id.cmake)

#ifndef DTRAIN_VERSION
#error "DTRAIN_VERSION comes from CMake's project() version"
#endif

namespace dtrain {
namespace {

#ifdef H5_HAVE_PARALLEL
constexpr bool kParallelHdf5 = true;
#else
constexpr bool kParallelHdf5 = false;
#endif

// Open MPI's answer runs on with its package and build date: its first part names it.
std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  const std::string s(text, static_cast<std::size_t>(length));
  return s.substr(0, s.find_first_of(",\n"));
}

std::string dotted(unsigned a, unsigned b, unsigned c) {
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c);
}

// UCX is not linked: Open MPI's pml/osc ucx components load it. Asked the way they would find
// it, so the answer is the library a job with those components runs on.
std::string ucx_library() {
  void* ucp = dlopen("libucp.so.0", RTLD_LAZY | RTLD_LOCAL);
  if (!ucp) return "not found (libucp.so.0; Open MPI's ucx components cannot load)";
  using GetVersion = void (*)(unsigned*, unsigned*, unsigned*);
  auto get = reinterpret_cast<GetVersion>(dlsym(ucp, "ucp_get_version"));
  std::string v = "present (no ucp_get_version)";
  if (get) {
    unsigned major = 0, minor = 0, release = 0;
    get(&major, &minor, &release);
    v = dotted(major, minor, release);
  }
  // Kept loaded: its constructors allocate once for the life of the process (Open MPI's ucx
  // components load it again anyway), and unloading it would leave those as leaks.
  return v;
}

std::string hdf5_library() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return dotted(major, minor, release) + (kParallelHdf5 ? " (parallel)" : "");
}

std::string boost_library() {
  std::string v = BOOST_LIB_VERSION;  // "1_74"
  for (auto& c : v)
    if (c == '_') c = '.';
  return v;
}

#ifdef DTRAIN_NATIVE_BUILD
constexpr bool kNativeBuild = true;
#else
constexpr bool kNativeBuild = false;
#endif

}  // namespace

std::string dtrain_version() {
  return DTRAIN_VERSION;
}
std::string dtrain_commit() {
  return DTRAIN_COMMIT;
}

std::string own_loops() {
  std::string s = isa_level_name(cpu_isa_level());
  return s + (kNativeBuild ? " (built with -march=native for its build machine)"
                           : " (chosen at run time for this CPU)");
}

std::vector<std::pair<std::string, std::string>> library_versions() {
  const dnnl_version_t* dnnl = dnnl_version();
  return {{"MPI", mpi_library()},
          {"UCX", ucx_library()},
          {"oneDNN", dotted(dnnl->major, dnnl->minor, dnnl->patch)},
          {"HDF5", hdf5_library()},
          {"Protobuf", google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)},
          {"Boost", boost_library()}};
}

std::string version_text(const std::string& program) {
  std::string text =
      program + " (dtrain) " + dtrain_version() + ", commit " + dtrain_commit() + "\n";
  auto lines = library_versions();
  lines.emplace_back("loops", own_loops());
  for (const auto& [name, version] : lines) {
    text += "  " + name + ":";
    text.append(10 - std::min<std::size_t>(9, name.size()), ' ');
    text += version + "\n";
  }
  return text;
}

}  // namespace dtrain
