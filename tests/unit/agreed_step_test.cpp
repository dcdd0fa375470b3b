// AgreedStep: the word the async chief publishes carries the step and its kinds both ways,
// and the two words that are not a step (nothing agreed, choosing) stay distinct from any.
#include <gtest/gtest.h>

#include "comm/ps/agreed_step.h"

namespace dtrain::comm {
namespace {

TEST(AgreedStep, WordCarriesStepAndKinds) {
  for (const int64_t step : std::initializer_list<int64_t>{0, 1, 7, 8, 300, int64_t{1} << 40}) {
    for (int64_t kinds = 1; kinds <= 7; ++kinds) {
      const AgreedStep a(step, kinds);
      const auto back = AgreedStep::from_word(a.word());
      ASSERT_TRUE(back.has_value()) << step << " " << kinds;
      EXPECT_EQ(back->step(), step);
      EXPECT_EQ(back->has(AgreedStep::kCheckpoint), (kinds & 1) != 0);
      EXPECT_EQ(back->has(AgreedStep::kStop), (kinds & 2) != 0);
      EXPECT_EQ(back->has(AgreedStep::kLocal), (kinds & 4) != 0);
      EXPECT_EQ(back->cut_only(), kinds == AgreedStep::kLocal);
      EXPECT_GT(a.word(), AgreedStep::kNone);
    }
  }
}

TEST(AgreedStep, NoneAndChoosingAreNoStep) {
  EXPECT_FALSE(AgreedStep::from_word(AgreedStep::kNone).has_value());
  EXPECT_FALSE(AgreedStep::from_word(AgreedStep::kChoosing).has_value());
}

}  // namespace
}  // namespace dtrain::comm
