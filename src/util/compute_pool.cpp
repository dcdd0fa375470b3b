#include "dtrain/util/compute_pool.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace dtrain {

namespace {
void flush_denormals_on_this_thread() {
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}
}  // namespace

int compute_threads(int requested, int sharing) {
  if (requested > 0) return requested;
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = 1;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  // A rank bound to one core sees only that core: do not divide it further.
  if (cores >= sharing) cores /= std::max(1, sharing);
  return std::max(1, cores);
}

void use_compute_threads(int threads) {
  omp_set_num_threads(threads);
  flush_denormals_on_this_thread();
#pragma omp parallel
  flush_denormals_on_this_thread();
}

}  // namespace dtrain
