// The node-local level's cost meter: what a checkpoint adds to the iterations of its interval,
// against the mean of the quiet ones of the same interval (its last third); the step time is
// the mean of the quiet ones (the second half of those before the first checkpoint, the last
// third of each interval).
#include "train/local_cost.h"

#include <gtest/gtest.h>

namespace dtrain::train {
namespace {

void steady(LocalCostMeter& m, int n, double seconds) {
  for (int i = 0; i < n; ++i) m.iteration(seconds, true);
}

// 20 iterations of `seconds`, then the first checkpoint.
LocalCostMeter after_first_checkpoint(double seconds) {
  LocalCostMeter m;
  steady(m, 20, seconds);
  EXPECT_FALSE(m.taken());  // the first: its interval is still to come
  return m;
}

// One interval: an iteration of `first` seconds, `n` of `rest`; then the next checkpoint.
bool interval(LocalCostMeter& m, double first, int n, double rest) {
  m.iteration(first, true);
  steady(m, n, rest);
  return m.taken();
}

TEST(LocalCostMeter, NothingBeforeABaselineAndAWholeInterval) {
  LocalCostMeter m;
  steady(m, 2 * LocalCostMeter::kMinBaseline - 1, 0.1);
  EXPECT_FALSE(m.taken());
  EXPECT_FALSE(m.baseline());  // too few quiet iterations before it
  const LocalCostMeter n = after_first_checkpoint(0.1);
  ASSERT_TRUE(n.baseline());
  EXPECT_DOUBLE_EQ(*n.baseline(), 0.1);
  EXPECT_FALSE(n.seconds_per_checkpoint());
}

TEST(LocalCostMeter, TheExcessOfAWholeIntervalWhereverItFalls) {
  LocalCostMeter m = after_first_checkpoint(0.1);
  // 12 iterations: the save's 30 ms longer, two more (the copy, a partner's write) 10 ms and
  // 20 ms, in the first two thirds; the last third quiet.
  m.iteration(0.13, true);
  steady(m, 3, 0.1);
  m.iteration(0.11, true);
  steady(m, 2, 0.1);
  EXPECT_TRUE(interval(m, 0.12, 4, 0.1));
  ASSERT_TRUE(m.seconds_per_checkpoint());
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.06, 1e-9);
  EXPECT_EQ(m.measured(), 1);
}

TEST(LocalCostMeter, TheBaselineFollowsTheQuietIterations) {
  LocalCostMeter m = after_first_checkpoint(0.1);
  for (int k = 0; k < 20; ++k) interval(m, 0.2, 8, 0.2);  // slower steps, checkpoints or not
  EXPECT_NEAR(*m.baseline(), 0.2, 1e-9);
  // A slower phase is not a cost once the quiet iterations have caught up with it.
  LocalCostMeter fresh = after_first_checkpoint(0.2);
  interval(fresh, 0.2, 8, 0.2);
  EXPECT_NEAR(*fresh.seconds_per_checkpoint(), 0.0, 1e-9);
}

TEST(LocalCostMeter, TheFirstIterationsWarmUpAndAreNotTheBaseline) {
  LocalCostMeter m;
  steady(m, 10, 0.5);
  steady(m, 10, 0.1);
  m.taken();
  EXPECT_DOUBLE_EQ(*m.baseline(), 0.1);
}

TEST(LocalCostMeter, TheCostIsThatOfTheLatestIntervals) {
  LocalCostMeter m = after_first_checkpoint(0.1);
  for (std::size_t k = 0; k < LocalCostMeter::kMeasuredIntervals; ++k) interval(m, 0.4, 8, 0.1);
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.3, 1e-9);
  for (std::size_t k = 0; k < LocalCostMeter::kMeasuredIntervals; ++k) interval(m, 0.1, 8, 0.1);
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.0, 1e-9);
  EXPECT_EQ(m.measured(), static_cast<int>(2 * LocalCostMeter::kMeasuredIntervals));
}

TEST(LocalCostMeter, OneOutlierIntervalDoesNotMoveTheCost) {
  // The median of the latest intervals: one slow interval (another job's burst on the cores)
  // among ordinary ones leaves the cost where the ordinary ones put it.
  LocalCostMeter m = after_first_checkpoint(0.1);
  for (int k = 0; k < 6; ++k) interval(m, 0.13, 8, 0.1);
  interval(m, 0.4, 8, 0.1);
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.03, 1e-9);
}

TEST(LocalCostMeter, OtherWorkIsNeitherBaselineNorCost) {
  LocalCostMeter m;
  steady(m, 10, 0.1);
  m.iteration(5.0, false);  // an evaluation before the first checkpoint
  m.taken();
  EXPECT_DOUBLE_EQ(*m.baseline(), 0.1);
  steady(m, 3, 0.1);
  m.iteration(3.0, false);  // a --model-dir checkpoint inside the interval
  EXPECT_TRUE(interval(m, 0.1, 5, 0.1));
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.0, 1e-9);
}

TEST(LocalCostMeter, NoiseBelowTheBaselineAveragesOutAndTheCostIsNeverNegative) {
  LocalCostMeter m = after_first_checkpoint(0.1);
  EXPECT_TRUE(interval(m, 0.08, 8, 0.1));  // one interval faster, one slower
  EXPECT_TRUE(interval(m, 0.14, 8, 0.1));
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.01, 1e-9);
  LocalCostMeter fast = after_first_checkpoint(0.1);
  interval(fast, 0.05, 8, 0.1);
  EXPECT_DOUBLE_EQ(*fast.seconds_per_checkpoint(), 0.0);
}

TEST(LocalCostMeter, IntervalsTooShortForAQuietThirdAreNotMeasured) {
  LocalCostMeter m = after_first_checkpoint(0.1);
  EXPECT_FALSE(interval(m, 0.5, 1, 0.5));  // 2 iterations: no quiet third for a baseline
  EXPECT_FALSE(interval(m, 0.5, 7, 0.1));  // 8: a quiet third of 2 is too noisy
  EXPECT_FALSE(m.seconds_per_checkpoint());
  EXPECT_TRUE(interval(m, 0.5, 8, 0.1));
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.4, 1e-9);
}

TEST(LocalCostMeter, StepsFasterThanInTheWarmUpAreNoNegativeCost) {
  // Each interval against its own quiet end: the slower steps before the first checkpoint do
  // not hide what the checkpoint added.
  LocalCostMeter m = after_first_checkpoint(0.2);
  EXPECT_TRUE(interval(m, 0.4, 8, 0.1));
  EXPECT_NEAR(*m.seconds_per_checkpoint(), 0.3, 1e-9);
}

// The interval: a step of 0.1 s and a share of 2% make 2 ms of cost one step of interval; half
// a step less, so that the interval's rounding up lands on `steps` whatever the float error.
constexpr double kStep = 0.1;
double costing(int64_t steps) {
  return (static_cast<double>(steps) - 0.5) * AutoLocalInterval::kShare * kStep;
}

TEST(AutoLocalInterval, LengthensAtOnceUpToTwofold) {
  EXPECT_EQ(AutoLocalInterval::next(20, costing(35), kStep, 1), 35);
  EXPECT_EQ(AutoLocalInterval::next(20, costing(500), kStep, 1), 40);
}

TEST(AutoLocalInterval, StaysWhileTheNewFigureIsWithinHalfAsMuchAgain) {
  EXPECT_EQ(AutoLocalInterval::next(40, costing(59), kStep, 5), 40);
  EXPECT_EQ(AutoLocalInterval::next(40, costing(27), kStep, 5), 40);
  EXPECT_EQ(AutoLocalInterval::next(40, costing(61), kStep, 5), 61);
}

TEST(AutoLocalInterval, ShortensOnlyAfterSeveralMeasurementsAndByAThirdAtMost) {
  // One or two cheap intervals (noise on shared cores) do not crowd the checkpoints.
  for (int m = 1; m < AutoLocalInterval::kMeasuredToShorten; ++m)
    EXPECT_EQ(AutoLocalInterval::next(60, costing(1), kStep, m), 60);
  EXPECT_EQ(AutoLocalInterval::next(60, costing(1), kStep, AutoLocalInterval::kMeasuredToShorten),
            40);
  EXPECT_EQ(AutoLocalInterval::next(60, costing(30), kStep, 8), 40);
  EXPECT_EQ(AutoLocalInterval::next(12, costing(1), kStep, 8), AutoLocalInterval::kMin);
}

TEST(AutoLocalInterval, ItsOwnAccountOnlySpacesThemFurtherThanTheFirst) {
  EXPECT_EQ(AutoLocalInterval::next(20, costing(3), kStep, 0), AutoLocalInterval::kFirst);
  EXPECT_EQ(AutoLocalInterval::next(20, costing(30), kStep, 0), 30);
}

}  // namespace
}  // namespace dtrain::train
