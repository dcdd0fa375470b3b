// StragglerWatch (train/straggler_watch.h): who is named, when, and only once.
#include "train/straggler_watch.h"

#include <gtest/gtest.h>

#include <vector>

namespace dtrain::train {
namespace {

TEST(StragglerWatch, NamesAWorkerSlowerThanTheMedianForTwoWindowsOnce) {
  StragglerWatch watch(4);
  const std::vector<double> even{1.0, 1.1, 0.9, 1.0}, slow{1.0, 1.1, 2.9, 1.0};
  EXPECT_TRUE(watch.judge(even).empty());
  EXPECT_TRUE(watch.judge(slow).empty());  // one window: not yet
  const auto named = watch.judge(slow);
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].worker, 2);
  EXPECT_NEAR(named[0].ratio, 2.9, 1e-9);  // the median of {1.0, 1.1, 2.9, 1.0} (lower) is 1.0
  EXPECT_DOUBLE_EQ(named[0].median_ms_per_row, 1.0);
  EXPECT_TRUE(watch.judge(slow).empty());  // named once per run
  EXPECT_EQ(watch.last(), slow);
  EXPECT_NEAR(watch.mean_ms_per_row()[2], (0.9 + 3 * 2.9) / 4, 1e-12);
}

TEST(StragglerWatch, AWindowBackInLineStartsTheCountAgain) {
  StragglerWatch watch(3);
  EXPECT_TRUE(watch.judge(std::vector{1.0, 1.0, 1.5}).empty());
  EXPECT_TRUE(watch.judge(std::vector{1.0, 1.0, 1.2}).empty());  // 1.2x: within 1.3x
  EXPECT_TRUE(watch.judge(std::vector{1.0, 1.0, 1.5}).empty());
  EXPECT_EQ(watch.judge(std::vector{1.0, 1.0, 1.5}).size(), 1u);
}

TEST(StragglerWatch, TwoWorkersAreJudgedAgainstTheFasterOne) {
  StragglerWatch watch(2);
  watch.judge(std::vector{3.0, 1.0});
  const auto named = watch.judge(std::vector{3.0, 1.0});
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].worker, 0);
  EXPECT_DOUBLE_EQ(named[0].ratio, 3.0);
}

TEST(StragglerWatch, WorkersWithoutAFigureAreLeftOut) {
  StragglerWatch watch(3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(watch.judge(std::vector{0.0, 1.0, 1.2}).empty());
  EXPECT_DOUBLE_EQ(watch.mean_ms_per_row()[0], 0.0);
}

TEST(StragglerWatch, AWindowIsTheComputeTimePerRowSinceTheLastTotals) {
  StragglerWatch watch(2);
  watch.add(0.010, 50);
  watch.add(0.030, 50);
  EXPECT_DOUBLE_EQ(watch.seconds(), 0.040);
  EXPECT_DOUBLE_EQ(watch.rows(), 100);
  // Totals [seconds of each worker..., rows of each...]: 0.4 and 2.0 ms per row.
  EXPECT_TRUE(watch.judge_totals(std::vector{0.040, 0.200, 100.0, 100.0}).empty());
  EXPECT_EQ(watch.last(), (std::vector{0.4, 2.0}));
  // The next window is the difference: 0.4 and 3.0 ms per row; a worker without new rows
  // (an async worker that did not publish) has no figure.
  const auto named = watch.judge_totals(std::vector{0.080, 0.500, 200.0, 200.0});
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].worker, 1);
  EXPECT_DOUBLE_EQ(named[0].ms_per_row, 3.0);
  watch.judge_totals(std::vector{0.080, 0.600, 200.0, 250.0});
  EXPECT_EQ(watch.last()[0], 0.0);
  EXPECT_NEAR(watch.last()[1], 2.0, 1e-9);
  EXPECT_TRUE(watch.judge_totals(std::vector{1.0}).empty());  // the wrong size: ignored
}

}  // namespace
}  // namespace dtrain::train
