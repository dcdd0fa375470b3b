// Compiled for the baseline x86-64 even in a -DDTRAIN_NATIVE=ON build (src/CMakeLists.txt), so
// that the check below runs on any CPU before native code does.
#include "util/isa_level.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace dtrain {
namespace {

#if defined(__x86_64__)
// The features dtrain names, as __builtin_cpu_supports spells them (which takes only literals).
// GCC's answer includes the OS's (xgetbv: the AVX and AVX-512 registers are saved).
bool cpu_supports(std::string_view f) {
#define DTRAIN_FEATURE(name) \
  if (f == name) return __builtin_cpu_supports(name);
  DTRAIN_FEATURE("sse4.2")
  DTRAIN_FEATURE("avx")
  DTRAIN_FEATURE("avx2")
  DTRAIN_FEATURE("fma")
  DTRAIN_FEATURE("bmi")
  DTRAIN_FEATURE("bmi2")
  DTRAIN_FEATURE("avx512f")
  DTRAIN_FEATURE("avx512bw")
  DTRAIN_FEATURE("avx512cd")
  DTRAIN_FEATURE("avx512dq")
  DTRAIN_FEATURE("avx512vl")
  DTRAIN_FEATURE("avx512vnni")
  DTRAIN_FEATURE("avx512bf16")
  DTRAIN_FEATURE("avx512vbmi")
  DTRAIN_FEATURE("avx512ifma")
#if !defined(__clang__)  // clang 14 does not know these names
  DTRAIN_FEATURE("f16c")
  DTRAIN_FEATURE("lzcnt")
  DTRAIN_FEATURE("movbe")
#endif
#undef DTRAIN_FEATURE
  return true;  // a name clang cannot ask for: every CPU with AVX2 and BMI2 has it
}
#else
bool cpu_supports(std::string_view) {
  return true;
}
#endif

bool all_supported(std::string_view features) {
  return missing_cpu_features(features, cpu_supports).empty();
}

IsaLevel detect() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!all_supported("avx2 fma bmi bmi2 f16c lzcnt movbe")) return IsaLevel::x86_64;
  if (!all_supported("avx512f avx512bw avx512cd avx512dq avx512vl")) return IsaLevel::v3;
  return IsaLevel::v4;
#else
  return IsaLevel::x86_64;  // other architectures: one copy, built for the target's baseline
#endif
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "this CPU";
}

#ifndef DTRAIN_NATIVE_FEATURES
#define DTRAIN_NATIVE_FEATURES ""  // the portable build: nothing beyond the baseline
#endif

// Before main() and before any native code's static initializers (the lowest priority number
// user code may take), so that a native build on a foreign CPU ends with a reason, not SIGILL.
__attribute__((constructor(101))) void refuse_foreign_cpu() {
#if defined(__x86_64__)
  __builtin_cpu_init();
#endif
  const auto missing = missing_cpu_features(DTRAIN_NATIVE_FEATURES, cpu_supports);
  if (missing.empty()) return;
  std::ifstream comm("/proc/self/comm");
  std::string program = "dtrain";
  std::getline(comm, program);
  const std::string text =
      foreign_cpu_message(program, DTRAIN_NATIVE_FEATURES, missing, cpu_model());
  std::fputs(text.c_str(), stderr);
  _exit(2);  // before main(): nothing to unwind, no MPI yet; exit code 2 is "refused at start"
}

}  // namespace

IsaLevel cpu_isa_level() {
  static const IsaLevel level = detect();
  return level;
}

const char* isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::v4:
      return "x86-64-v4 (AVX-512)";
    case IsaLevel::v3:
      return "x86-64-v3 (AVX2, FMA)";
    default:
      return "x86-64 (SSE2)";
  }
}

std::vector<std::string> missing_cpu_features(std::string_view features,
                                              bool (*cpu_has)(std::string_view)) {
  std::vector<std::string> missing;
  std::istringstream words{std::string(features)};
  for (std::string f; words >> f;) {
    if (!cpu_has(f)) missing.push_back(f);
  }
  return missing;
}

std::string foreign_cpu_message(const std::string& program, std::string_view built_for,
                                const std::vector<std::string>& missing, const std::string& cpu) {
  std::string lacks;
  for (const auto& f : missing) lacks += (lacks.empty() ? "" : " ") + f;
  return program + ": error: this build was made for its build machine's CPU " +
         "(-DDTRAIN_NATIVE=ON: " + std::string(built_for) + "); this CPU (" + cpu + ") lacks " +
         lacks + ". Build with -DDTRAIN_NATIVE=OFF (the default) for a binary " +
         "that runs on every x86-64 CPU.\n";
}

}  // namespace dtrain
