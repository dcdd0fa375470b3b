// The two ceilings a compute kernel is judged against, measured on this machine in the same run
// as the kernels: the fp32 FMA peak (a register-blocked loop of independent FMAs at the widest
// vector ISA that both the CPU and oneDNN use here) and the memory bandwidth (STREAM triad).
// Measured rather than taken from a data sheet, so a ratio against them holds on any machine,
// turbo and VM included.
#pragma once

#include <string>

namespace dtrain {

struct MachineCeiling {
  std::string isa;        // the vector ISA of the FMA loop: "avx512", "avx2" or "sse"
  int threads = 1;        // OpenMP threads, each running the loop
  double fma_gflops = 0;  // fp32 GFLOP/s, all threads (best of several runs)
  double triad_gbps = 0;  // a[i] = b[i] + s * c[i], GB/s counting 3 x 4 bytes per element
};

// Runs both loops on `threads` threads; takes about a second.
MachineCeiling measure_ceiling(int threads);

}  // namespace dtrain
