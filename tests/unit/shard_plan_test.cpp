// ShardPlan: every epoch is a partition of all examples over the workers, for both policies,
// for any number of files and workers, and the global policy does not depend on the workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "data/memory_source.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/shard_plan.h"
#include "dtrain/util/error.h"

namespace dtrain::data {
namespace {

struct PlanCase {
  ShardPolicy policy;
  std::vector<int64_t> units;
  int workers;
  int64_t batch;
};

class ExactlyOnce : public ::testing::TestWithParam<PlanCase> {};

TEST_P(ExactlyOnce, EveryExampleOncePerEpoch) {
  const auto c = GetParam();
  ShardConfig cfg;
  cfg.policy = c.policy;
  cfg.workers = c.workers;
  cfg.global_batch = c.batch;
  cfg.seed = 99;
  cfg.shuffle_buffer = 7;
  ShardPlan plan(c.units, cfg);
  const int64_t total = plan.examples();
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int> seen(static_cast<std::size_t>(total), 0);
    const int64_t steps = plan.steps_in_epoch(epoch);
    const auto rows = plan.global_rows(epoch);
    ASSERT_EQ(static_cast<int64_t>(rows.size()), steps);
    std::vector<int64_t> rows_seen(static_cast<std::size_t>(steps), 0);
    for (int w = 0; w < c.workers; ++w) {
      const auto ws = plan.worker_steps(epoch, w);
      ASSERT_EQ(static_cast<int64_t>(ws.size()), steps) << "every worker runs the same steps";
      for (int64_t s = 0; s < steps; ++s) {
        EXPECT_LE(static_cast<int64_t>(ws[static_cast<std::size_t>(s)].size()),
                  plan.worker_batch(w));
        rows_seen[static_cast<std::size_t>(s)] +=
            static_cast<int64_t>(ws[static_cast<std::size_t>(s)].size());
        for (int64_t id : ws[static_cast<std::size_t>(s)]) ++seen[static_cast<std::size_t>(id)];
      }
    }
    EXPECT_EQ(rows_seen, rows) << "global_rows matches what the workers read";
    for (int64_t id = 0; id < total; ++id) {
      ASSERT_EQ(seen[static_cast<std::size_t>(id)], 1) << "id " << id << " epoch " << epoch;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Policies, ExactlyOnce,
    ::testing::Values(PlanCase{ShardPolicy::kGlobal, {100}, 1, 10},
                      PlanCase{ShardPolicy::kGlobal, {37, 50, 13}, 3, 16},  // uneven last batch
                      PlanCase{ShardPolicy::kGlobal, {101}, 4, 9},
                      PlanCase{
                          ShardPolicy::kFiles, {30, 30, 30, 30, 30}, 3, 9},  // 5 files, 3 workers
                      PlanCase{ShardPolicy::kFiles, {7, 50, 3, 21}, 2, 4},   // uneven files
                      PlanCase{ShardPolicy::kFiles, {100, 1}, 3, 6},  // fewer files: record ranges
                      PlanCase{ShardPolicy::kFiles, {10}, 4, 4}),
    [](const ::testing::TestParamInfo<PlanCase>& p) {
      std::string name = to_string(p.param.policy) + "_" + std::to_string(p.param.units.size()) +
                         "units_" + std::to_string(p.param.workers) + "workers_batch" +
                         std::to_string(p.param.batch);
      return name;
    });

TEST(ShardPlan, GlobalBatchesDoNotDependOnTheWorkerCount) {
  ShardConfig one;
  one.global_batch = 12;
  one.seed = 5;
  ShardConfig three = one;
  three.workers = 3;
  ShardPlan p1({50, 25}, one), p3({50, 25}, three);
  ASSERT_EQ(p1.steps_in_epoch(2), p3.steps_in_epoch(2));
  const auto single = p1.worker_steps(2, 0);
  for (int64_t s = 0; s < p1.steps_in_epoch(2); ++s) {
    std::vector<int64_t> joined;
    for (int w = 0; w < 3; ++w) {
      const auto part = p3.worker_steps(2, w)[static_cast<std::size_t>(s)];
      joined.insert(joined.end(), part.begin(), part.end());
    }
    EXPECT_EQ(joined, single[static_cast<std::size_t>(s)]) << "step " << s;
  }
}

TEST(ShardPlan, OrderChangesWithEpochAndSeedOnly) {
  ShardConfig cfg;
  cfg.global_batch = 10;
  ShardPlan a({100}, cfg), b({100}, cfg);
  EXPECT_EQ(a.worker_steps(1, 0), b.worker_steps(1, 0));
  EXPECT_NE(a.worker_steps(0, 0), a.worker_steps(1, 0));
  cfg.seed = 2;
  EXPECT_NE(ShardPlan({100}, cfg).worker_steps(1, 0), a.worker_steps(1, 0));
  cfg.shuffle = false;
  EXPECT_EQ(ShardPlan({100}, cfg).worker_steps(0, 0)[0],
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(ShardPlan, FilesPolicyKeepsReadsLocal) {
  // With a buffer of K, an example is emitted at most K positions before its stream position.
  ShardConfig cfg;
  cfg.policy = ShardPolicy::kFiles;
  cfg.global_batch = 5;
  cfg.shuffle_buffer = 8;
  ShardPlan plan({40, 40}, cfg);
  std::vector<int64_t> order;
  for (const auto& s : plan.worker_steps(0, 0)) order.insert(order.end(), s.begin(), s.end());
  ASSERT_EQ(order.size(), 80u);
  // The first emitted example must be among the first K+1 of the first file streamed.
  const int64_t first_file_start = order[0] < 40 ? 0 : 40;
  EXPECT_LT(order[0] - first_file_start, 9);
}

TEST(ShardPlan, RejectsImpossibleConfigurations) {
  ShardConfig cfg;
  cfg.workers = 4;
  cfg.global_batch = 3;
  EXPECT_THROW(ShardPlan({10}, cfg), OptionError);
  cfg.global_batch = 8;
  EXPECT_THROW(ShardPlan({0}, cfg), DataError);
}

TEST(BatchStream, DeliversThePlanWithPaddingAndAcrossEpochs) {
  std::vector<std::uint8_t> px(10 * 4);
  std::vector<int32_t> labels(10);
  for (int i = 0; i < 10; ++i) {
    labels[static_cast<std::size_t>(i)] = i % 3;
    for (int j = 0; j < 4; ++j)
      px[static_cast<std::size_t>(i * 4 + j)] = static_cast<std::uint8_t>(i);
  }
  auto src = std::make_shared<MemorySource>("mem", ImageShape{1, 2, 2}, px, labels);
  ShardConfig cfg;
  cfg.global_batch = 4;
  ShardPlan plan(src->unit_sizes(), cfg);
  BatchStream::Options o;
  o.epochs = 2;
  o.prefetch = 2;
  BatchStream stream(src, plan, o);
  int batches = 0;
  while (auto b = stream.next()) {
    const auto expected = plan.worker_steps(b->epoch, 0)[static_cast<std::size_t>(b->step)];
    ASSERT_EQ(b->real_rows, static_cast<int64_t>(expected.size()));
    EXPECT_EQ(b->rows, 4);
    for (int64_t r = 0; r < b->rows; ++r) {
      const auto i = static_cast<std::size_t>(r);
      if (r < b->real_rows) {
        EXPECT_EQ(b->ids[i], expected[i]);
        EXPECT_EQ(b->labels[i], expected[i] % 3);
        EXPECT_FLOAT_EQ(b->images[i * 4], static_cast<float>(expected[i]) / 255.f);
      } else {
        EXPECT_EQ(b->ids[i], -1);  // padding
        EXPECT_EQ(b->images[i * 4], 0.f);
      }
    }
    ++batches;
  }
  EXPECT_EQ(batches, 2 * 3);  // 10 examples in batches of 4: 3 steps per epoch
}

TEST(BatchStream, LabelOutOfRangeIsAClearError) {
  auto src =
      std::make_shared<MemorySource>("labels.idx", ImageShape{1, 1, 1},
                                     std::vector<std::uint8_t>{1, 2}, std::vector<int32_t>{3, 12});
  ShardConfig cfg;
  cfg.global_batch = 2;
  cfg.shuffle = false;
  BatchStream::Options o;
  BatchStream stream(src, ShardPlan(src->unit_sizes(), cfg), o);
  try {
    stream.next();
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("label 12"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("labels.idx"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dtrain::data
