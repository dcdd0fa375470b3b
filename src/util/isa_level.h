// dtrain's own hot loops (the 2x2 max pool, conv1's backward-weights, Adam) are compiled once
// per x86-64 psABI level, each copy in its own namespace (isa_x86_64, isa_v3, isa_v4; CMake's
// DTRAIN_ISA_NAMESPACE), and the level the CPU runs picks one at run time. So one build runs on
// every node of a cluster whose CPUs differ and still uses AVX-512 where it is there. A whole
// file per level, not a target attribute per function: GCC does not pass a function's target
// to the bodies OpenMP outlines from it, which then run at the baseline.
// oneDNN chooses its own kernels at run time; the rest of dtrain is not hot enough to matter
// (scripts/bench_compute.sh compares this build with -DDTRAIN_NATIVE=ON side by side).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dtrain {

enum class IsaLevel { x86_64, v3, v4 };

// The highest level this CPU and OS run: v4 needs AVX-512 F/BW/CD/DQ/VL, v3 AVX2, FMA, BMI1/2,
// F16C, LZCNT and MOVBE. Asked once (cpuid and xgetbv through GCC's __builtin_cpu_supports).
IsaLevel cpu_isa_level();

// "x86-64-v4 (AVX-512)": for --version, the role table and the benchmarks.
const char* isa_level_name(IsaLevel level);

// The words of `features` ("avx2 fma", as __builtin_cpu_supports names them) that cpu_has
// denies. A -DDTRAIN_NATIVE=ON build checks the features it was compiled to use this way before
// main() and exits 2 with foreign_cpu_message() on a CPU that lacks one.
std::vector<std::string> missing_cpu_features(std::string_view features,
                                              bool (*cpu_has)(std::string_view));
std::string foreign_cpu_message(const std::string& program, std::string_view built_for,
                                const std::vector<std::string>& missing, const std::string& cpu);

// One of three builds of a loop, for the CPU this runs on.
template <class Fn>
Fn isa_pick(Fn x86_64, Fn v3, Fn v4) {
  switch (cpu_isa_level()) {
    case IsaLevel::v4:
      return v4;
    case IsaLevel::v3:
      return v3;
    default:
      return x86_64;
  }
}

}  // namespace dtrain

// Puts the declarations given in each level's namespace, where the dispatching file names them.
#define DTRAIN_ISA_DECLARE(...) \
  namespace isa_x86_64 {        \
  __VA_ARGS__                   \
  }                             \
  namespace isa_v3 {            \
  __VA_ARGS__                   \
  }                             \
  namespace isa_v4 {            \
  __VA_ARGS__                   \
  }

// The copy of function `name` (declared with DTRAIN_ISA_DECLARE) for this CPU.
#define DTRAIN_ISA_PICK(name) ::dtrain::isa_pick(&isa_x86_64::name, &isa_v3::name, &isa_v4::name)
