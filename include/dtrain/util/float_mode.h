// Flush-to-zero for the compute threads. Late in training, Adam's second moments and some
// gradients fall into the subnormal range, where x86 arithmetic is tens of times slower: a run
// lost half its speed after the first epoch that way. Subnormal values are far below anything
// that changes a float32 weight, so they are flushed to zero (as torch.set_flush_denormal does).
#pragma once

namespace dtrain {

// Sets FTZ and DAZ on this thread and on every thread of the OpenMP pool.
void flush_denormals_to_zero();

}  // namespace dtrain
