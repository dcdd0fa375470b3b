// BucketPlan: the buckets tile the flat buffer from its end; sharded, every bucket's pieces over
// all ranks tile the bucket, aligned and balanced, the same on every rank; each rank's owned
// buffer is its pieces back to back. GradientWire: fp32 reduces in place, fp16 round-trips
// through its own buffers with the scale undone.
#include <gtest/gtest.h>

#include <numeric>

#include "comm/sync/bucket_plan.h"
#include "comm/sync/gradient_wire.h"

namespace dtrain::comm {
namespace {

constexpr std::size_t kAlign = nn::ParameterLayout::kAlignFloats;

struct PlanCase {
  std::size_t total;
  double bucket_mb;
  int ranks;
};

class BucketPlanCases : public ::testing::TestWithParam<PlanCase> {};

TEST_P(BucketPlanCases, BucketsTileTheBufferFromItsEnd) {
  const auto c = GetParam();
  const BucketPlan plan(c.total, c.bucket_mb, c.ranks, 0, true);
  std::size_t end = c.total;
  for (const auto& b : plan.buckets()) {
    EXPECT_EQ(b.end, end);
    EXPECT_LT(b.begin, b.end);
    EXPECT_LE(b.size(),
              std::max<std::size_t>(kAlign, static_cast<std::size_t>(c.bucket_mb * 2.5e5)));
    if (b.begin > 0) {
      EXPECT_EQ(b.size() % kAlign, 0u);
    }
    end = b.begin;
  }
  EXPECT_EQ(end, 0u);
}

TEST_P(BucketPlanCases, PiecesTileEveryBucketAlignedAndBalanced) {
  const auto c = GetParam();
  std::vector<BucketPlan> plans;
  for (int r = 0; r < c.ranks; ++r) plans.emplace_back(c.total, c.bucket_mb, c.ranks, r, true);
  std::size_t owned_total = 0;
  for (int r = 0; r < c.ranks; ++r) {
    const BucketPlan& plan = plans[static_cast<std::size_t>(r)];
    std::size_t offset = 0;
    for (std::size_t k = 0; k < plan.buckets().size(); ++k) {
      const auto& b = plan.buckets()[k];
      const auto& p = plan.pieces(k);
      // Every rank computes the same counts and displacements (MPI requires it).
      EXPECT_EQ(p.counts, plans[0].pieces(k).counts);
      EXPECT_EQ(p.displs, plans[0].pieces(k).displs);
      ASSERT_EQ(p.counts.size(), static_cast<std::size_t>(c.ranks));
      int at = 0;
      for (int q = 0; q < c.ranks; ++q) {
        EXPECT_EQ(p.displs[static_cast<std::size_t>(q)], at);
        EXPECT_EQ(p.displs[static_cast<std::size_t>(q)] % static_cast<int>(kAlign), 0);
        at += p.counts[static_cast<std::size_t>(q)];
      }
      EXPECT_EQ(static_cast<std::size_t>(at), b.size());
      const auto [lo, hi] = std::minmax_element(p.counts.begin(), p.counts.end());
      EXPECT_LE(static_cast<std::size_t>(*hi - *lo), kAlign);
      const auto me = static_cast<std::size_t>(r);
      EXPECT_EQ(p.mine.begin, b.begin + static_cast<std::size_t>(p.displs[me]));
      EXPECT_EQ(p.mine.size(), static_cast<std::size_t>(p.counts[me]));
      EXPECT_EQ(p.owned_offset, offset);
      offset += p.mine.size();
    }
    EXPECT_EQ(plan.owned_size(), offset);
    std::size_t ranged = 0;
    for (const auto& range : plan.owned_ranges()) ranged += range.size();
    EXPECT_EQ(ranged, offset);
    owned_total += offset;
  }
  EXPECT_EQ(owned_total, c.total);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BucketPlanCases,
                         ::testing::Values(PlanCase{1, 4.0, 1}, PlanCase{15, 4.0, 3},
                                           PlanCase{3274634, 4.0, 4}, PlanCase{3274634, 0.5, 7},
                                           PlanCase{1000003, 0.001, 2}, PlanCase{4096, 100.0, 5}));

TEST(BucketPlan, UnshardedOwnsTheWholeBuffer) {
  const BucketPlan plan(1000, 0.001, 4, 2, false);
  EXPECT_FALSE(plan.sharded());
  EXPECT_EQ(plan.owned_size(), 1000u);
  ASSERT_EQ(plan.owned_ranges().size(), 1u);
  EXPECT_EQ(plan.owned_ranges()[0].begin, 0u);
  EXPECT_EQ(plan.owned_ranges()[0].end, 1000u);
}

TEST(GradientWire, Fp32ReducesWhereTheGradientsLie) {
  std::vector<float> grads(64, 0.25f), owned(16, 0.f);
  GradientWire wire(Compression::kNone, 8.f, grads.size(), owned.size());
  EXPECT_EQ(wire.type(), MPI_FLOAT);
  EXPECT_EQ(wire.op(), MPI_SUM);
  EXPECT_EQ(wire.encode(grads.data(), {16, 32}), grads.data() + 16);
  EXPECT_EQ(wire.receive_at(owned.data(), 4), owned.data() + 4);
  wire.decode(grads.data() + 16, 16, grads.data() + 16);
  EXPECT_EQ(grads[16], 0.25f);  // neither scaled nor moved
}

TEST(GradientWire, Fp16EncodesScaledAndDecodesUnscaled) {
  std::vector<float> grads(64), back(64, -1.f);
  std::iota(grads.begin(), grads.end(), 0.f);
  for (float& g : grads) g /= 1024.f;  // exact in fp16 after the scale
  GradientWire wire(Compression::kFp16, 256.f, grads.size(), 8);
  EXPECT_EQ(wire.type(), MPI_UINT16_T);
  EXPECT_NE(wire.op(), MPI_SUM);
  const void* half = wire.encode(grads.data(), {16, 48});
  EXPECT_NE(half, static_cast<const void*>(grads.data() + 16));
  EXPECT_EQ(static_cast<const std::uint16_t*>(half)[1], fp16::from_float(17.f / 1024.f * 256.f));
  wire.decode(half, 32, back.data() + 16);
  for (std::size_t i = 16; i < 48; ++i) EXPECT_EQ(back[i], grads[i]) << i;
  EXPECT_EQ(back[0], -1.f);
  EXPECT_NE(wire.receive_at(back.data(), 0), static_cast<void*>(back.data()));
}

}  // namespace
}  // namespace dtrain::comm
