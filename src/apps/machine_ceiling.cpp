#include "apps/machine_ceiling.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "util/clock.h"

namespace dtrain {

namespace {

// 12 independent accumulators cover the FMA latency times the FMA ports of current x86 cores
// (4 cycles x 2 ports), so the loop is bound by FMA throughput alone. Returns a sum of the
// accumulators so that the compiler cannot drop the loop.
#define DTRAIN_FMA_LOOP(VEC, SET1, FMA, ADD, LANES)                               \
  VEC a[12];                                                                      \
  for (int k = 0; k < 12; ++k) a[k] = SET1(1.0f + 0.01f * static_cast<float>(k)); \
  const VEC x = SET1(0.999999f), y = SET1(1e-7f);                                 \
  for (int64_t i = 0; i < iters; ++i) {                                           \
    for (int k = 0; k < 12; ++k) a[k] = FMA(a[k], x, y);                          \
  }                                                                               \
  VEC s = a[0];                                                                   \
  for (int k = 1; k < 12; ++k) s = ADD(s, a[k]);                                  \
  float lanes[LANES];                                                             \
  std::copy_n(reinterpret_cast<const float*>(&s), LANES, lanes);                  \
  return lanes[0];

__attribute__((target("avx512f"))) float fma_avx512(int64_t iters) {
  DTRAIN_FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16)
}

__attribute__((target("avx2,fma"))) float fma_avx2(int64_t iters) {
  DTRAIN_FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8)
}

// Without FMA: a multiply and an add per lane, counted as two flops like an FMA.
inline __m128 mul_add(__m128 a, __m128 x, __m128 y) {
  return _mm_add_ps(_mm_mul_ps(a, x), y);
}
float fma_sse(int64_t iters) {
  DTRAIN_FMA_LOOP(__m128, _mm_set1_ps, mul_add, _mm_add_ps, 4)
}

#undef DTRAIN_FMA_LOOP

struct FmaKernel {
  const char* isa;
  int lanes;
  float (*run)(int64_t);
};

FmaKernel widest_kernel() {
  const auto isa = dnnl::get_effective_cpu_isa();
  if (isa >= dnnl::cpu_isa::avx512_core && __builtin_cpu_supports("avx512f"))
    return {"avx512", 16, fma_avx512};
  if (isa >= dnnl::cpu_isa::avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {"avx2", 8, fma_avx2};
  return {"sse", 4, fma_sse};
}

template <typename Body>
double best_seconds(int runs, int threads, Body&& body) {
  double best = 1e300;
  for (int r = 0; r < runs; ++r) {
    double t0 = 0;
#pragma omp parallel num_threads(threads)
    {
#pragma omp barrier
#pragma omp master
      t0 = now_seconds();
      body();
#pragma omp barrier
#pragma omp master
      best = std::min(best, now_seconds() - t0);
    }
  }
  return best;
}

double fma_gflops(const FmaKernel& k, int threads) {
  const int64_t iters = 20'000'000;
  std::vector<float> sinks(static_cast<std::size_t>(threads));  // keeps the loops' results live
  const double s = best_seconds(
      5, threads, [&] { sinks[static_cast<std::size_t>(omp_get_thread_num())] += k.run(iters); });
  return static_cast<double>(threads) * static_cast<double>(iters) * 12 * k.lanes * 2 / s / 1e9;
}

double triad_gbps(int threads) {
  // 3 arrays of 128 MiB: far beyond any last-level cache.
  const int64_t n = int64_t{1} << 25;
  std::vector<float> a(static_cast<std::size_t>(n)), b(a.size()), c(a.size());
  float *pa = a.data(), *pb = b.data(), *pc = c.data();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) pa[i] = 0, pb[i] = 1, pc[i] = 2;  // first touch where used
  const double s = best_seconds(5, threads, [&] {
#pragma omp for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) pa[i] = pb[i] + 3.0f * pc[i];
  });
  return 3.0 * 4.0 * static_cast<double>(n) / s / 1e9;
}

}  // namespace

MachineCeiling measure_ceiling(int threads) {
  const FmaKernel k = widest_kernel();
  MachineCeiling c;
  c.isa = k.isa;
  c.threads = threads;
  c.fma_gflops = fma_gflops(k, threads);
  c.triad_gbps = triad_gbps(threads);
  return c;
}

}  // namespace dtrain
