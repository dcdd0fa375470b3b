#include "comm/exchange_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dtrain::comm {

namespace {

constexpr double kMB = 1 << 20;

std::string mb_text(double mb) {
  char text[32];
  std::snprintf(text, sizeof text, "%g MB", mb);
  return text;
}

// The bucket sizes a choice ranges over (today's default, 4 MB, first): fewer buckets pay the
// collectives' latency fewer times, smaller ones leave less unhidden at the end.
const std::vector<double> kBucketsMb = {4.0, 1.0, 16.0};

}  // namespace

std::string ExchangeChoice::name() const {
  if (mode == Mode::kAsync) return std::to_string(num_ps) + (num_ps == 1 ? " server" : " servers");
  std::string n = sharded ? "sharded" : ring ? "whole ring" : "whole";
  return n + (wire == Compression::kFp16 ? " fp16 " : " fp32 ") + mb_text(bucket_mb);
}

std::string ExchangeChoice::flags() const {
  if (mode == Mode::kAsync) return "--num-ps " + std::to_string(num_ps);
  char mb[32];
  std::snprintf(mb, sizeof mb, "%g", bucket_mb);
  return std::string("--exchange ") +
         (sharded ? "sharded"
          : ring  ? "ring"
                  : "whole") +
         " --bucket-mb " + mb + " --compress " + to_string(wire);
}

double predict_sync_step(const ExchangeChoice& c, const LinkFacts& link, const ComputeFacts& cf) {
  const double S = cf.gradient_bytes, B = c.bucket_mb * kMB;
  const double wire = c.wire == Compression::kFp16 ? 0.5 : 1.0;
  const CollectiveCost& first = c.sharded ? link.reduce_scatter
                                : c.ring  ? link.allreduce_ring
                                          : link.allreduce;
  const int buckets = std::max(1, static_cast<int>(std::ceil(S / B)));
  const double last_bytes = S - (buckets - 1) * B;  // buckets are cut from the end
  double reduce = 0, gather = 0;
  for (int b = 0; b < buckets; ++b) {
    const double bytes = b + 1 < buckets ? B : last_bytes;
    reduce += first.seconds(wire * bytes);
    if (c.sharded) gather += link.allgather.seconds(bytes);
  }
  const double exposed = std::max(first.seconds(wire * last_bytes), reduce - cf.overlap * cf.step);
  const double optimizer = c.sharded ? cf.optimizer / std::max(1, link.ranks) : cf.optimizer;
  const double fp16 = c.wire == Compression::kFp16 ? cf.fp16_per_byte * S : 0.0;
  return cf.step + exposed + gather + optimizer + fp16;
}

double predict_async_step(int num_ps, int workers, const LinkFacts& link, const ComputeFacts& cf) {
  const double S = cf.gradient_bytes;
  const double worker = cf.step + 2 * (link.alpha + S / link.beta);
  const double servers_link = S * workers / (num_ps * link.beta);
  const double servers_optimizer = workers * cf.optimizer / num_ps;
  return std::max({worker, servers_link, servers_optimizer});
}

const Alternative& choose(const std::vector<Alternative>& ranked, const ExchangeChoice& fallback) {
  const Alternative& best = ranked.front();
  for (const Alternative& a : ranked) {
    if (a.choice.name() == fallback.name() && best.step > (1 - kSwitchMargin) * a.step) return a;
  }
  return best;
}

bool within_limits(const ExchangeChoice& c, const ChoiceLimits& limits) {
  if (c.mode == Mode::kAsync) return limits.num_ps == 0 || c.num_ps == limits.num_ps;
  const ExchangeKind kind = c.sharded ? ExchangeKind::kSharded
                            : c.ring  ? ExchangeKind::kRing
                                      : ExchangeKind::kWhole;
  if (limits.exchange != ExchangeKind::kAuto && kind != limits.exchange) return false;
  if (c.sharded && !limits.sharded_allowed) return false;
  if (!limits.fp16_allowed && c.wire != limits.wire) return false;
  return limits.bucket_mb <= 0 || c.bucket_mb == limits.bucket_mb;
}

namespace {

std::vector<Alternative> sync_alternatives(const LinkFacts& link, const ComputeFacts& cf,
                                           const ChoiceLimits& limits) {
  std::vector<ExchangeKind> kinds;
  if (limits.sharded_allowed) kinds.push_back(ExchangeKind::kSharded);
  kinds.push_back(ExchangeKind::kWhole);
  if (link.nodes > 2) kinds.push_back(ExchangeKind::kRing);
  if (limits.exchange != ExchangeKind::kAuto) kinds = {limits.exchange};
  std::vector<Compression> wires = {limits.wire};
  if (limits.fp16_allowed) wires = {Compression::kNone, Compression::kFp16};
  std::vector<double> buckets = kBucketsMb;
  if (limits.bucket_mb > 0) buckets = {limits.bucket_mb};
  std::vector<Alternative> out;
  for (const ExchangeKind kind : kinds) {
    for (const Compression wire : wires) {
      for (const double mb : buckets) {
        ExchangeChoice c;
        c.sharded = kind == ExchangeKind::kSharded;
        c.ring = kind == ExchangeKind::kRing;
        c.wire = wire;
        c.bucket_mb = mb;
        const double step = predict_sync_step(c, link, cf);
        out.push_back({c, step, static_cast<double>(cf.batch) * link.ranks / step});
      }
    }
  }
  return out;
}

std::vector<Alternative> async_alternatives(const LinkFacts& link, const ComputeFacts& cf,
                                            const ChoiceLimits& limits) {
  std::vector<Alternative> out;
  const int most = std::max(1, std::min(link.ranks - 1, link.nodes));
  for (int k = 1; k <= most; ++k) {
    if (limits.num_ps > 0 && k != limits.num_ps) continue;
    ExchangeChoice c;
    c.mode = Mode::kAsync;
    c.num_ps = k;
    const int workers = link.ranks - k;
    const double step = predict_async_step(k, workers, link, cf);
    out.push_back({c, step, static_cast<double>(cf.batch) * workers / step});
  }
  return out;
}

}  // namespace

std::vector<Alternative> rank_alternatives(Mode mode, const LinkFacts& link, const ComputeFacts& cf,
                                           const ChoiceLimits& limits) {
  auto out = mode == Mode::kAsync ? async_alternatives(link, cf, limits)
                                  : sync_alternatives(link, cf, limits);
  std::stable_sort(out.begin(), out.end(), [](const Alternative& a, const Alternative& b) {
    return a.images_s > b.images_s;
  });
  return out;
}

}  // namespace dtrain::comm
