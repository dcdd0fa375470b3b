// The exchange model (comm/exchange_model.h): predictions follow the formulas on hand-made
// facts, the choice moves the way the links move it (fp16 and sharding on slow links, a ring
// where Open MPI's allreduce is slow, more servers when their links bound async), every user
// limit holds, and a recorded choice parses back (train/exchange_plan.h).
#include <gtest/gtest.h>

#include "comm/exchange_model.h"
#include "train/exchange_plan.h"

namespace dtrain::comm {
namespace {

constexpr double kMB = 1 << 20;

// A link where every collective moves `rate` bytes/s with `latency` s per call.
LinkFacts link_of(int nodes, double rate, double latency = 1e-4) {
  LinkFacts l;
  l.measured = true;
  l.nodes = l.ranks = nodes;
  l.alpha = latency;
  l.beta = rate;
  const double ring = 2.0 * (nodes - 1) / nodes / rate;
  l.allreduce = {2 * latency, ring};
  l.allreduce_ring = {2 * latency, ring};
  l.reduce_scatter = {latency, ring / 2};
  l.allgather = {latency, ring / 2};
  return l;
}

ComputeFacts compute_of(double step_s) {
  ComputeFacts c;
  c.step = step_s;
  c.optimizer = 0.012;
  c.fp16_per_byte = 1e-10;
  c.gradient_bytes = 13.1e6;
  c.batch = 50;
  return c;
}

ExchangeChoice sync_choice(bool sharded, bool ring, Compression wire, double mb) {
  ExchangeChoice c;
  c.sharded = sharded;
  c.ring = ring;
  c.wire = wire;
  c.bucket_mb = mb;
  return c;
}

TEST(ExchangeModel, SyncStepFollowsTheFormula) {
  const LinkFacts l = link_of(2, 100e6);
  const ComputeFacts c = compute_of(0.05);
  // One bucket holds it all: nothing hides it, whole optimizer after.
  const double whole = predict_sync_step(sync_choice(false, false, Compression::kNone, 16), l, c);
  EXPECT_NEAR(whole, 0.05 + l.allreduce.seconds(13.1e6) + 0.012, 1e-12);
  // Sharded: reduce-scatter, a 1/2 optimizer step, the allgather.
  const double sharded = predict_sync_step(sync_choice(true, false, Compression::kNone, 16), l, c);
  EXPECT_NEAR(sharded,
              0.05 + l.reduce_scatter.seconds(13.1e6) + l.allgather.seconds(13.1e6) + 0.006, 1e-12);
  // fp16 halves the reduced bytes and adds the conversion.
  const double half = predict_sync_step(sync_choice(false, false, Compression::kFp16, 16), l, c);
  EXPECT_NEAR(half, 0.05 + l.allreduce.seconds(6.55e6) + 0.012 + 1e-10 * 13.1e6, 1e-12);
  // Buckets of 4 MB: 4 calls, the last (1.08 MB) exposed at least, the rest hidden up to 30%.
  const double four = predict_sync_step(sync_choice(false, false, Compression::kNone, 4), l, c);
  const double reduce = 3 * l.allreduce.seconds(4 * kMB) + l.allreduce.seconds(13.1e6 - 12 * kMB);
  EXPECT_NEAR(four, 0.05 + std::max(l.allreduce.seconds(13.1e6 - 12 * kMB), reduce - 0.015) + 0.012,
              1e-12);
}

TEST(ExchangeModel, AsyncStepIsItsSlowestBound) {
  const LinkFacts l = link_of(4, 125e6);
  ComputeFacts c = compute_of(0.06);
  c.batch = 100;
  const double worker = 0.06 + 2 * (1e-4 + 13.1e6 / 125e6);
  EXPECT_NEAR(predict_async_step(1, 3, l, c), std::max(worker, 3 * 13.1e6 / 125e6), 1e-12);
  EXPECT_NEAR(predict_async_step(2, 2, l, c), worker, 1e-12);
  c.optimizer = 0.5;  // servers' optimizer steps bound it
  EXPECT_NEAR(predict_async_step(1, 3, l, c), 1.5, 1e-12);
}

TEST(ExchangeModel, SlowLinksChooseFp16WhenAllowedAndNeverOtherwise) {
  const LinkFacts slow = link_of(3, 25e6);
  const ComputeFacts c = compute_of(0.05);
  ChoiceLimits limits;
  auto best = rank_alternatives(Mode::kSync, slow, c, limits);
  for (const auto& a : best) EXPECT_EQ(a.choice.wire, Compression::kNone) << a.choice.name();
  limits.fp16_allowed = true;
  best = rank_alternatives(Mode::kSync, slow, c, limits);
  EXPECT_EQ(best.front().choice.wire, Compression::kFp16) << best.front().choice.name();
  // Sorted fastest first.
  for (std::size_t i = 1; i < best.size(); ++i) EXPECT_GE(best[i - 1].images_s, best[i].images_s);
}

TEST(ExchangeModel, ARingWhereOpenMpisAllreduceIsSlowAndOnlyBeyondTwoNodes) {
  LinkFacts l = link_of(3, 100e6);
  l.allreduce.per_byte *= 2;  // Open MPI's fixed decision, as measured on 3 hosts
  ChoiceLimits whole_only;
  whole_only.sharded_allowed = false;
  const auto three = rank_alternatives(Mode::kSync, l, compute_of(0.05), whole_only);
  EXPECT_TRUE(three.front().choice.ring) << three.front().choice.name();
  LinkFacts two = link_of(2, 100e6);
  two.allreduce.per_byte *= 2;
  for (const auto& a : rank_alternatives(Mode::kSync, two, compute_of(0.05), whole_only)) {
    EXPECT_FALSE(a.choice.ring) << "2 nodes: " << a.choice.name();
    EXPECT_FALSE(a.choice.sharded) << "--no-shard-optimizer: " << a.choice.name();
  }
}

TEST(ExchangeModel, TheDefaultStaysUnlessAnotherIsPredictedFivePercentFaster) {
  auto alternative = [](bool sharded, double step) {
    return Alternative{sync_choice(sharded, false, Compression::kNone, 4), step, 1 / step};
  };
  const ExchangeChoice fallback = sync_choice(true, false, Compression::kNone, 4);
  EXPECT_TRUE(choose({alternative(false, 0.96), alternative(true, 1.0)}, fallback).choice.sharded);
  EXPECT_FALSE(choose({alternative(false, 0.94), alternative(true, 1.0)}, fallback).choice.sharded);
  // A default outside the limits (not among the alternatives): the fastest.
  EXPECT_FALSE(choose({alternative(false, 0.99)}, fallback).choice.sharded);
}

TEST(ExchangeModel, UserLimitsHold) {
  const LinkFacts l = link_of(3, 25e6);
  ChoiceLimits limits;
  limits.exchange = ExchangeKind::kWhole;
  limits.bucket_mb = 2;
  limits.wire = Compression::kFp16;
  const auto all = rank_alternatives(Mode::kSync, l, compute_of(0.05), limits);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().choice.name(), "whole fp16 2 MB");
  EXPECT_TRUE(within_limits(all.front().choice, limits));
  EXPECT_FALSE(within_limits(sync_choice(true, false, Compression::kFp16, 2), limits));
  EXPECT_FALSE(within_limits(sync_choice(false, false, Compression::kNone, 2), limits));
  EXPECT_FALSE(within_limits(sync_choice(false, false, Compression::kFp16, 4), limits));
}

TEST(ExchangeModel, ServersFollowTheirLinks) {
  ComputeFacts c = compute_of(0.06);
  c.batch = 100;
  // Fast links: compute bounds a worker, so every rank but one trains.
  auto fast = rank_alternatives(Mode::kAsync, link_of(4, 10e9), c, {});
  EXPECT_EQ(fast.front().choice.num_ps, 1);
  EXPECT_EQ(fast.size(), 3u);  // 1, 2, 3 servers on 4 nodes
  // Slow links, 8 nodes: one server's link carries 7 workers' gradients, which 3 servers
  // share (on 4 nodes one server still wins: a worker's own pull and push, one after the
  // other, take as long as the server's full-duplex link carrying 3 workers' each way).
  auto slow = rank_alternatives(Mode::kAsync, link_of(8, 25e6), c, {});
  EXPECT_EQ(slow.front().choice.num_ps, 3) << slow.front().choice.name();
  EXPECT_EQ(rank_alternatives(Mode::kAsync, link_of(4, 25e6), c, {}).front().choice.num_ps, 1);
  ChoiceLimits one;
  one.num_ps = 1;
  ASSERT_EQ(rank_alternatives(Mode::kAsync, link_of(4, 25e6), c, one).size(), 1u);
}

TEST(ExchangeModel, ARecordedChoiceParsesBack) {
  for (const auto& c : {sync_choice(true, false, Compression::kNone, 4),
                        sync_choice(false, true, Compression::kFp16, 0.5),
                        sync_choice(false, false, Compression::kNone, 16)}) {
    const auto back = train::parse_choice(Mode::kSync, c.flags());
    ASSERT_TRUE(back) << c.flags();
    EXPECT_EQ(back->name(), c.name());
  }
  ExchangeChoice servers;
  servers.mode = Mode::kAsync;
  servers.num_ps = 3;
  EXPECT_EQ(train::parse_choice(Mode::kAsync, servers.flags())->num_ps, 3);
  for (const char* damaged : {"", "--exchange fast --bucket-mb 4 --compress none",
                              "--exchange whole --bucket-mb x --compress none",
                              "--exchange whole --bucket-mb 4", "--num-ps"})
    EXPECT_FALSE(train::parse_choice(Mode::kSync, damaged)) << damaged;
  EXPECT_FALSE(train::parse_choice(Mode::kAsync, "--num-ps 0"));
}

}  // namespace
}  // namespace dtrain::comm
