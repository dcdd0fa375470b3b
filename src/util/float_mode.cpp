#include "dtrain/util/float_mode.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace dtrain {

namespace {
void set_this_thread() {
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}
}  // namespace

void flush_denormals_to_zero() {
  set_this_thread();
#pragma omp parallel
  set_this_thread();
}

}  // namespace dtrain
