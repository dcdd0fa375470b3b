// What the multi-rank test programs share (tests/mpi/mpi_test_main.cpp is their main).
#pragma once

#include <string>

namespace dtrain::testing {

// The value after `name` among the program's own arguments (after GoogleTest's), e.g.
// arg("--num-ps", "1") for `mpirun -np 4 rma_exact_sum --num-ps 2`.
std::string arg(const std::string& name, const std::string& fallback);
int rank();
int size();

}  // namespace dtrain::testing
