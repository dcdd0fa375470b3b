#include "dtrain/nn/precision.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "dtrain/util/error.h"

namespace dtrain::nn {

std::string to_string(Precision p) {
  return p == Precision::kBf16 ? "bf16" : "fp32";
}

bool cpu_has_native_bf16() {
  // oneDNN's ISA values are cumulative bit sets: a CPU at or above avx512_core_bf16 (with AMX
  // too) has all of its bits.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto bf16 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
  return (isa & bf16) == bf16;
}

namespace {

std::string isa_name() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      return "AVX512_BF16 and AMX";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "AVX512_BF16";
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core:
      return "AVX-512 without AVX512_BF16";
    default:
      return "no AVX-512";
  }
}

}  // namespace

Precision resolve_precision(const std::string& requested, std::string* why) {
  const bool native = cpu_has_native_bf16();
  auto say = [&](Precision p, const std::string& reason) {
    if (why) *why = to_string(p) + " (" + reason + ")";
    return p;
  };
  if (requested == "fp32") return say(Precision::kFp32, "--precision fp32");
  if (requested == "auto") {
    return native ? say(Precision::kBf16, "auto: this CPU has " + isa_name())
                  : say(Precision::kFp32, "auto: this CPU has " + isa_name() +
                                              ", where bf16 would be slower than fp32");
  }
  if (requested != "bf16") {
    throw OptionError("--precision " + requested + ": expected fp32, bf16 or auto");
  }
  if (!native) {
    throw OptionError("--precision bf16: this CPU has " + isa_name() +
                      " as oneDNN sees it; bf16 needs AVX512_BF16 (Cooper Lake, Sapphire "
                      "Rapids, AMD Zen 4 or later) and would otherwise be emulated slower than "
                      "fp32: use --precision fp32 or auto");
  }
  return say(Precision::kBf16, "--precision bf16 on " + isa_name());
}

}  // namespace dtrain::nn
