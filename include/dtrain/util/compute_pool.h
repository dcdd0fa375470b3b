// The OpenMP thread pool that oneDNN and the optimizers run on. Every program sets it up through
// use_compute_threads(), so no entry point can size the pool and forget its float mode.
//
// Flush-to-zero: late in training, Adam's second moments and some gradients fall into the
// subnormal range, where x86 arithmetic is tens of times slower: a run lost half its speed after
// the first epoch that way. Subnormal values are far below anything that changes a float32
// weight, so they are flushed to zero (as torch.set_flush_denormal does).
#pragma once

namespace dtrain {

// Sizes the pool to `threads` and sets FTZ and DAZ on the calling thread and on every thread
// of the pool.
void use_compute_threads(int threads);

// Threads for compute on this rank: `requested` (--threads) when > 0, else the cores this
// process may run on divided among the `sharing` ranks that compute on its node (at least 1).
int compute_threads(int requested, int sharing);

}  // namespace dtrain
