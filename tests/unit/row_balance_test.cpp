// --balance speed's pure parts: the split by speed (train/row_balance.h) and the schedule the
// reader follows (data/row_schedule.h).
#include <gtest/gtest.h>

#include <numeric>
#include <thread>
#include <vector>

#include "data/row_schedule.h"
#include "train/row_balance.h"

namespace dtrain {
namespace {

int64_t sum(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

TEST(RowBalance, MovesHalfWayTowardsRowsInProportionToSpeed) {
  const int64_t q = train::split_quantum(100, 2);  // 3
  EXPECT_EQ(q, 3);
  // Worker 1 is 3x slower: the target is 75/25; half way from 50/50 is 62.5/37.5.
  const auto next = train::balanced_rows(std::vector<int64_t>{50, 50}, std::vector{1.0, 3.0}, q);
  EXPECT_EQ(sum(next), 100);
  EXPECT_EQ(next[0] % q, 0);
  EXPECT_GT(next[0], 55);
  EXPECT_LT(next[1], 45);
  // Applied again and again, it settles near the target.
  std::vector<int64_t> rows{50, 50};
  for (int i = 0; i < 20; ++i) rows = train::balanced_rows(rows, std::vector{1.0, 3.0}, q);
  EXPECT_NEAR(static_cast<double>(rows[0]), 75.0, q);
  EXPECT_EQ(sum(rows), 100);
}

TEST(RowBalance, KeepsEveryWorkerAtLeastOneQuantumAndTheBatch) {
  const int64_t q = train::split_quantum(100, 3);  // 2
  std::vector<int64_t> rows{34, 33, 33};
  for (int i = 0; i < 30; ++i) rows = train::balanced_rows(rows, std::vector{1.0, 1.0, 1000.0}, q);
  EXPECT_EQ(sum(rows), 100);
  EXPECT_EQ(rows[2], q);
  for (int64_t r : rows) EXPECT_GE(r, q);
}

TEST(RowBalance, EqualSpeedsKeepAnEvenSplitAndMissingFiguresKeepTheSplit) {
  const std::vector<int64_t> even{25, 25, 25, 25};
  EXPECT_EQ(train::balanced_rows(even, std::vector{2.0, 2.0, 2.0, 2.0}, 3), even);
  EXPECT_EQ(train::balanced_rows(even, std::vector{2.0, 2.1, 1.95, 2.0}, 3), even);  // noise
  EXPECT_EQ(train::balanced_rows(even, std::vector{2.0, 0.0, 2.0, 2.0}, 3), even);
  EXPECT_EQ(train::balanced_rows(even, std::vector{2.0, 2.0}, 3), even);  // the wrong size
}

TEST(RowSchedule, EachStepHasTheSplitInEffectThen) {
  data::RowSchedule s;
  s.start({{0, {50, 50}}});
  s.set_from(10, {70, 30});
  s.set_from(20, {60, 40});
  EXPECT_EQ(s.at(0), (std::vector<int64_t>{50, 50}));
  EXPECT_EQ(s.at(9), (std::vector<int64_t>{50, 50}));
  EXPECT_EQ(s.at(10), (std::vector<int64_t>{70, 30}));
  EXPECT_EQ(s.at(1000), (std::vector<int64_t>{60, 40}));
  EXPECT_EQ(s.history().size(), 3u);
  // Offsets: worker 1's rows follow worker 0's; a short last batch is split in proportion.
  EXPECT_EQ(s.offset_and_rows(12, 1, 100), (std::pair<int64_t, int64_t>{70, 30}));
  EXPECT_EQ(s.offset_and_rows(12, 0, 10), (std::pair<int64_t, int64_t>{0, 7}));
  EXPECT_EQ(s.offset_and_rows(12, 1, 10), (std::pair<int64_t, int64_t>{7, 3}));
  EXPECT_EQ(s.offset_and_rows(12, 0, 1).second + s.offset_and_rows(12, 1, 1).second, 1);
  EXPECT_THROW(s.set_from(5, {50, 50}), std::exception);   // an earlier step
  EXPECT_THROW(s.set_from(30, {50, 49}), std::exception);  // another batch
}

TEST(RowSchedule, StartsFromARecordedHistory) {
  data::RowSchedule s;
  EXPECT_TRUE(s.empty());
  EXPECT_THROW(s.at(0), std::exception);
  const std::vector<data::RowSplit> recorded = {{0, {50, 50}}, {16, {62, 38}}, {40, {75, 25}}};
  s.start(recorded);
  EXPECT_EQ(s.at(39), (std::vector<int64_t>{62, 38}));
  EXPECT_EQ(s.last_change(), 40);
  EXPECT_EQ(s.history(), recorded);
  EXPECT_THROW(s.start({{5, {50, 50}}}), std::exception);  // not from step 0
}

TEST(RowSplits, ARecordThatDoesNotFitIsNamed) {
  using data::RowSplit;
  const std::vector<RowSplit> fits = {{0, {50, 50}}, {16, {62, 38}}};
  EXPECT_EQ(train::splits_mismatch(fits, 2, 100), "");
  EXPECT_NE(train::splits_mismatch(fits, 3, 100).find("2 workers; this run has 3"),
            std::string::npos);
  EXPECT_NE(train::splits_mismatch(fits, 2, 64).find("this run's is 64"), std::string::npos);
  EXPECT_NE(train::splits_mismatch({}, 2, 100), "");
  const std::vector<RowSplit> backwards = {{0, {50, 50}}, {16, {62, 38}}, {8, {50, 50}}};
  EXPECT_NE(train::splits_mismatch(backwards, 2, 100), "");
  const std::vector<RowSplit> empty_worker = {{0, {100, 0}}};
  EXPECT_NE(train::splits_mismatch(empty_worker, 2, 100).find("no rows"), std::string::npos);
}

TEST(RowSchedule, AReaderAndAWriterAtOnce) {
  data::RowSchedule s;
  s.start({{0, {50, 50}}});
  std::thread writer([&] {
    for (int64_t step = 1; step <= 2000; ++step) s.set_from(step, {step % 99 + 1, 99 - step % 99});
  });
  for (int64_t step = 0; step < 2000; ++step) EXPECT_EQ(sum(s.at(step)), 100);
  writer.join();
}

}  // namespace
}  // namespace dtrain
