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

TEST(StragglerWatch, TheWindowIsComputeTimePerRow) {
  StragglerWatch watch(1);
  watch.add(0.010, 50);
  watch.add(0.030, 50);
  EXPECT_DOUBLE_EQ(watch.take_window(), 0.4);  // 40 ms over 100 rows
  EXPECT_DOUBLE_EQ(watch.take_window(), 0.0);  // a new window, nothing in it yet
}

}  // namespace
}  // namespace dtrain::train
