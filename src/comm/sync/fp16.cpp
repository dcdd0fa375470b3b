#include "comm/sync/fp16.h"

#include <bit>
#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define DTRAIN_HAVE_F16C_PATH 1
#endif

#include "util/mpi_call.h"

namespace dtrain::comm::fp16 {

namespace {

constexpr std::uint32_t kMaxHalfAsFloat = 0x477fe000u;  // 65504, the largest finite fp16
constexpr std::uint32_t kFloatInfinity = 0x7f800000u;

}  // namespace

// F. Giesen's branch-light conversion (public domain), with saturation added.
std::uint16_t from_float(float f) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  bits &= 0x7fffffffu;
  if (bits > kFloatInfinity) return static_cast<std::uint16_t>(sign | 0x7e00u);  // quiet NaN
  if (bits > kMaxHalfAsFloat) bits = kMaxHalfAsFloat;                            // saturate
  if (bits < (113u << 23)) {
    // Subnormal or zero in fp16: adding 0.5 lines the mantissa up so that the float
    // addition itself rounds to the nearest multiple of 2^-24, to even.
    const float shifted = std::bit_cast<float>(bits) + 0.5f;
    return static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(shifted) - 0x3f000000u));
  }
  const std::uint32_t odd = (bits >> 13) & 1u;
  bits += 0xc8000fffu + odd;  // rebias the exponent (-112 << 23) and round to nearest even
  return static_cast<std::uint16_t>(sign | (bits >> 13));
}

float to_float(std::uint16_t h) {
  std::uint32_t bits = (static_cast<std::uint32_t>(h) & 0x7fffu) << 13;
  const std::uint32_t exponent = bits & (0x7c00u << 13);
  bits += (127u - 15u) << 23;
  float f;
  if (exponent == (0x7c00u << 13)) {
    bits += (128u - 16u) << 23;  // infinity or NaN
    f = std::bit_cast<float>(bits);
  } else if (exponent == 0) {
    bits += 1u << 23;  // zero or subnormal: renormalise
    f = std::bit_cast<float>(bits) - std::bit_cast<float>(113u << 23);
  } else {
    f = std::bit_cast<float>(bits);
  }
  return (h & 0x8000u) ? -f : f;
}

namespace {

void encode_portable(const float* in, std::size_t n, float scale, std::uint16_t* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = from_float(in[i] * scale);
}

void decode_portable(const std::uint16_t* in, std::size_t n, float inverse, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = to_float(in[i]) * inverse;
}

void add_portable(const std::uint16_t* in, std::uint16_t* inout, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) inout[i] = from_float(to_float(in[i]) + to_float(inout[i]));
}

#ifdef DTRAIN_HAVE_F16C_PATH

// max(lo, v) and min(hi, v) return v when v is NaN (the second operand), so NaN passes.
__attribute__((target("avx,f16c"))) __m128i pack8(__m256 v) {
  const __m256 hi = _mm256_set1_ps(65504.f), lo = _mm256_set1_ps(-65504.f);
  v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
  return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

__attribute__((target("avx,f16c"))) void encode_f16c(const float* in, std::size_t n, float scale,
                                                     std::uint16_t* out) {
  const __m256 s = _mm256_set1_ps(scale);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(in + i), s);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), pack8(v));
  }
  encode_portable(in + i, n - i, scale, out + i);
}

__attribute__((target("avx,f16c"))) void decode_f16c(const std::uint16_t* in, std::size_t n,
                                                     float inverse, float* out) {
  const __m256 s = _mm256_set1_ps(inverse);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(v, s));
  }
  decode_portable(in + i, n - i, inverse, out + i);
}

__attribute__((target("avx,f16c"))) void add_f16c(const std::uint16_t* in, std::uint16_t* inout,
                                                  std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 a = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i)));
    const __m256 b = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(inout + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(inout + i), pack8(_mm256_add_ps(a, b)));
  }
  add_portable(in + i, inout + i, n - i);
}

// F16C from CPUID leaf 1 itself: clang's __builtin_cpu_supports does not know "f16c". AVX
// from the builtin, which also checks that the OS saves the YMM registers.
bool detect_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx") && (ecx & bit_F16C) != 0;
}

#else

bool detect_f16c() {
  return false;
}

#endif

void sum_op(void* in, void* inout, int* len, MPI_Datatype*) {
  add(static_cast<const std::uint16_t*>(in), static_cast<std::uint16_t*>(inout),
      static_cast<std::size_t>(*len));
}

}  // namespace

bool uses_f16c() {
  static const bool f16c = detect_f16c();
  return f16c;
}

void encode(const float* in, std::size_t n, float scale, std::uint16_t* out) {
#ifdef DTRAIN_HAVE_F16C_PATH
  if (uses_f16c()) return encode_f16c(in, n, scale, out);
#endif
  encode_portable(in, n, scale, out);
}

void decode(const std::uint16_t* in, std::size_t n, float scale, float* out) {
#ifdef DTRAIN_HAVE_F16C_PATH
  if (uses_f16c()) return decode_f16c(in, n, 1.f / scale, out);
#endif
  decode_portable(in, n, 1.f / scale, out);
}

void add(const std::uint16_t* in, std::uint16_t* inout, std::size_t n) {
#ifdef DTRAIN_HAVE_F16C_PATH
  if (uses_f16c()) return add_f16c(in, inout, n);
#endif
  add_portable(in, inout, n);
}

Fp16Sum::Fp16Sum() {
  mpi_call("MPI_Op_create (fp16 sum)", MPI_Op_create, &sum_op, 1, &op_);
}

Fp16Sum::~Fp16Sum() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && op_ != MPI_OP_NULL) {
    MpiLock lock(mpi_mutex());
    MPI_Op_free(&op_);
  }
}

}  // namespace dtrain::comm::fp16
