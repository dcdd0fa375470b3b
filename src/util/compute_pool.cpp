#include "dtrain/util/compute_pool.h"

#include <omp.h>

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

void use_compute_threads(int threads) {
  omp_set_num_threads(threads);
  flush_denormals_on_this_thread();
#pragma omp parallel
  flush_denormals_on_this_thread();
}

}  // namespace dtrain
