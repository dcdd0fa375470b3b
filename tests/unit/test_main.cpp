// Unit-test main: MPI is initialised once for the whole binary (as a singleton process) because
// parallel HDF5's MPI-IO driver needs it; everything else runs as plain GoogleTest.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>

// GCC says __SANITIZE_ADDRESS__; clang 14 only answers __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define DTRAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DTRAIN_ASAN 1
#endif
#endif

#if defined(DTRAIN_ASAN)
// Libraries' one-time allocations that live until exit are not dtrain's leaks. They are listed
// here rather than in a file so that every run of the binary (ctest, test discovery, by hand)
// checks leaks the same way; dtrain's own code is not suppressed.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libdnnl\nleak:libgomp\nleak:libmpi\nleak:libopen-pal\nleak:libopen-rte\n"
         "leak:libhdf5\nleak:libpmix\nleak:libhwloc\nleak:/openmpi/\nleak:libuc\n";
}

// Those libraries are built without frame pointers, so the fast unwinder stops one frame into
// them and the suppressions above never see the library's name.
extern "C" const char* __asan_default_options() {
  return "fast_unwind_on_malloc=0";
}
#endif

int main(int argc, char** argv) {
#if defined(DTRAIN_ASAN)
  // Open MPI unloads its plugins (mca_*.so) at MPI_Finalize, after which their allocations have
  // no module name to suppress by; keep them loaded.
  setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
#endif
  ::testing::InitGoogleTest(&argc, argv);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  const int rc = RUN_ALL_TESTS();
  MPI_Finalize();
  return rc;
}
