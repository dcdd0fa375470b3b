// The exchange model: the step time of every way dtrain can exchange gradients, predicted from
// the links and the compute measured at start-up (link_probe.h), and the fastest of them.
//
// It is the alpha-beta model the README checks against measurements (scripts/scaling_model.py)
// with one change: each collective's cost is its own measured line (latency + bytes x seconds per
// byte on these ranks), not a ring formula on one beta, because Open MPI's choice of algorithm,
// not the wire, is what separates the alternatives (its fixed decision for the whole allreduce on
// 3 hosts took twice a ring's time). Per step, S gradient bytes cut into buckets of B:
//   sync   T = T_c + max(T_last, sum_b T_1(b) - overlap T_c) + after
//          T_1: the first collective of a bucket (allreduce, or reduce-scatter when sharded), on
//          fp32 or fp16 bytes; T_last: the last bucket's, which nothing hides; after: sharded,
//          the optimizer on 1/p of the model and the parameter allgather (fp32); whole, the
//          optimizer on all of it. fp16 adds its encode and decode of the gradient.
//   async  T_w = max(T_c + 2 (alpha + S / beta),  S W / (K beta),  W T_opt / K)
//          a worker's compute with its pull and push; the K servers' links, each carrying S/K per
//          worker step each way; their optimizer steps. Images/s = W b / T_w.
// The model assumes equally fast ranks: T_c is the slowest rank's compute (sync waits for it),
// measured in the precision the run computes in.
#pragma once

#include <string>
#include <vector>

#include "dtrain/comm/roles.h"

namespace dtrain::comm {

// Seconds of one collective on `bytes`, as measured: a line.
struct CollectiveCost {
  double latency = 0;   // s
  double per_byte = 0;  // s per byte
  double seconds(double bytes) const { return latency + per_byte * bytes; }
};

// What the start-up measurement found (link_probe.h).
struct LinkFacts {
  bool measured = false;  // false: one node, nothing measured
  int nodes = 1, ranks = 1;
  double alpha = 0;  // s: half a round trip between two nodes
  double beta = 0;   // bytes/s: a one-way stream between two nodes
  // On all ranks, as the exchange calls them (fp32 bytes of the whole message).
  CollectiveCost allreduce, allreduce_ring, reduce_scatter, allgather;
  double seconds = 0;  // the measurement's own time
};

struct ComputeFacts {
  double step = 0;            // s: forward and backward of a rank's batch, the slowest rank
  double optimizer = 0;       // s: the optimizer step on the whole model
  double fp16_per_byte = 0;   // s per gradient byte: fp16 encode and decode
  double gradient_bytes = 0;  // S
  int64_t batch = 0;          // images per worker step
  // Of the compute, the share that can hide the first bucket collectives: backward of the
  // layers before the largest (the README's model, checked against measurements: 0.3).
  double overlap = 0.3;
};

// One way to exchange: sync (sharded or whole optimizer, Open MPI's allreduce or a ring, the
// wire precision, the bucket size) or async (the number of servers).
struct ExchangeChoice {
  Mode mode = Mode::kSync;
  bool sharded = true;
  bool ring = false;
  Compression wire = Compression::kNone;
  double bucket_mb = 4.0;
  int num_ps = 1;
  std::string name() const;  // "sharded fp32 4 MB", "whole ring fp16 16 MB", "2 servers"
  // The flags that pin this choice (--exchange, --bucket-mb, --compress; --num-ps).
  std::string flags() const;
};

struct Alternative {
  ExchangeChoice choice;
  double step = 0;      // predicted seconds per (worker) step
  double images_s = 0;  // predicted images/s of the job
};

// What the user fixed; the choice ranges over the rest.
struct ChoiceLimits {
  ExchangeKind exchange = ExchangeKind::kAuto;  // sharded / whole / ring fixed, or auto
  bool sharded_allowed = true;                  // false: --no-shard-optimizer (whole or ring)
  bool fp16_allowed = false;                    // --compress auto
  Compression wire = Compression::kNone;        // when fp16 is not a choice
  double bucket_mb = 0;                         // > 0: fixed
  int num_ps = 0;                               // > 0: fixed (async)
};

// Predicted step of one sync or async configuration.
double predict_sync_step(const ExchangeChoice& c, const LinkFacts& link, const ComputeFacts& cf);
double predict_async_step(int num_ps, int workers, const LinkFacts& link, const ComputeFacts& cf);

// How much faster an alternative must be predicted than today's default to be chosen over it.
// Closer predictions are within the model's error (the README's table), and a switch there
// could only lose: the bench's tolerance against the best configuration is the same 5%.
inline constexpr double kSwitchMargin = 0.05;

// The choice among `ranked` (fastest first): the fastest, unless `fallback` (today's default
// for the flags given) is among them and predicted within kSwitchMargin of it.
const Alternative& choose(const std::vector<Alternative>& ranked, const ExchangeChoice& fallback);

// Whether `c` is within what the user fixed (a recorded choice must be, to be kept).
bool within_limits(const ExchangeChoice& c, const ChoiceLimits& limits);

// Every alternative the limits allow, fastest first (ties: the order tried, today's default
// first). Sync: ring only on more than 2 nodes (on 2 it is what Open MPI runs anyway). Async:
// 1 .. min(ranks - 1, nodes) servers.
std::vector<Alternative> rank_alternatives(Mode mode, const LinkFacts& link, const ComputeFacts& cf,
                                           const ChoiceLimits& limits);

}  // namespace dtrain::comm
