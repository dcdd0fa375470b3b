// Unit-test main: MPI is initialised once for the whole binary (as a singleton process) because
// parallel HDF5's MPI-IO driver needs it; everything else runs as plain GoogleTest.
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  const int rc = RUN_ALL_TESTS();
  MPI_Finalize();
  return rc;
}
