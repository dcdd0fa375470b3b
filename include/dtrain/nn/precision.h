// The number format of the convolutions and dense layers (--precision).
//
// bf16 (bfloat16: fp32's 8-bit exponent, 8 bits of mantissa) runs the convolutions after the
// first and the dense layers on oneDNN's bf16 kernels: their inputs, weights and incoming
// gradients are converted to bf16, they accumulate in fp32 and write fp32. The master weights,
// the gradients into the exchange, the optimizer, the loss and the softmax stay fp32, so the
// checkpoints, exports and the exchange are the same either way. No loss scaling: bf16 has
// fp32's exponent range, so small gradients do not flush to zero as they would in fp16.
#pragma once

#include <string>

namespace dtrain::nn {

enum class Precision { kFp32, kBf16 };

std::string to_string(Precision p);  // "fp32", "bf16"

// Whether oneDNN runs bf16 natively here (AVX512_BF16 or AMX, as it reports; capped by
// ONEDNN_MAX_CPU_ISA). Without it oneDNN emulates bf16 on AVX-512 (slower than fp32) or has
// no bf16 kernels at all (AVX2).
bool cpu_has_native_bf16();

// --precision fp32|bf16|auto resolved on this CPU: auto picks bf16 where it is native, and
// *why* (when given) says what was picked and why. bf16 where it is not native throws
// OptionError naming the missing instruction set.
Precision resolve_precision(const std::string& requested, std::string* why = nullptr);

}  // namespace dtrain::nn
