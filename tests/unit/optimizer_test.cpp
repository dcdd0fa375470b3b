// Optimizer steps against values computed by hand from the update formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "dtrain/optim/lr_schedule.h"
#include "dtrain/util/error.h"
#include "optim/adam.h"
#include "optim/sgd.h"

namespace dtrain::optim {
namespace {

TEST(Adam, FirstTwoStepsByHand) {
  Adam adam(2, 0.9f, 0.999f, 1e-8f, 0.f);
  std::vector<float> p{1.0f, -2.0f}, g{0.5f, -0.25f};
  adam.step(p, g, 0.1f, 1.0f);
  // Step 1: m = 0.1 g, v = 0.001 g^2; m_hat = g, v_hat = g^2 -> p -= lr * sign(g) (eps tiny).
  EXPECT_NEAR(p[0], 1.0f - 0.1f, 1e-6f);
  EXPECT_NEAR(p[1], -2.0f + 0.1f, 1e-6f);
  std::vector<float> g2{1.5f, 0.25f};
  adam.step(p, g2, 0.1f, 1.0f);
  // Step 2 for element 0: m = 0.9*0.05 + 0.1*1.5 = 0.195; v = 0.999*0.00025 + 0.001*2.25 =
  // 0.00249975; m_hat = 0.195/0.19 = 1.026316; v_hat = 0.00249975/0.001999 = 1.250500.
  const double m_hat = 0.195 / 0.19, v_hat = 0.00249975 / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p[0], 0.9 - 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-6);
  // Element 1: m = 0.9*(-0.025) + 0.025 = 0.0025; v = 0.999*0.0000625 + 0.001*0.0625.
  const double m1 = 0.0025 / 0.19, v1 = (0.999 * 0.0000625 + 0.0000625) / (1 - 0.999 * 0.999);
  EXPECT_NEAR(p[1], -1.9 - 0.1 * m1 / (std::sqrt(v1) + 1e-8), 1e-6);
  EXPECT_EQ(adam.steps(), 2);
}

TEST(Adam, GradScaleAndWeightDecay) {
  Adam a(1, 0.9f, 0.999f, 1e-8f, 0.f), b(1, 0.9f, 0.999f, 1e-8f, 0.f);
  std::vector<float> pa{1.f}, pb{1.f}, g{4.f}, g_scaled{1.f};
  a.step(pa, g, 0.01f, 0.25f);
  b.step(pb, g_scaled, 0.01f, 1.f);
  EXPECT_FLOAT_EQ(pa[0], pb[0]);
  EXPECT_THROW(
      a.step(std::span<float>(pa.data(), 1), std::span<const float>(g.data(), 0), 0.1f, 1.f),
      Error);
}

TEST(Sgd, MomentumByHand) {
  Sgd sgd(1, 0.9f, false, 0.f);
  std::vector<float> p{1.f};
  std::vector<float> g{0.5f};
  sgd.step(p, g, 0.1f, 1.f);  // v = 0.5, p = 1 - 0.05
  EXPECT_NEAR(p[0], 0.95f, 1e-7f);
  sgd.step(p, g, 0.1f, 1.f);  // v = 0.45 + 0.5 = 0.95, p = 0.95 - 0.095
  EXPECT_NEAR(p[0], 0.855f, 1e-6f);
}

TEST(Sgd, NesterovAndWeightDecayByHand) {
  Sgd sgd(1, 0.9f, true, 0.1f);
  std::vector<float> p{2.f}, g{1.f};
  sgd.step(p, g, 0.5f, 1.f);  // g' = 1 + 0.2 = 1.2; v = 1.2; update = 1.2 + 0.9*1.2 = 2.28
  EXPECT_NEAR(p[0], 2.f - 0.5f * 2.28f, 1e-6f);
}

// Three steps over a range cut into pieces (as the sharded sync exchange steps the pieces it
// owns, where they sit) give the bytes of the same steps over the range in one piece.
TEST(OptimizerPieces, MatchOneContiguousStep) {
  const OptimizerConfig configs[] = {{.kind = OptimizerKind::kAdam, .weight_decay = 0.01f},
                                     {.kind = OptimizerKind::kSgd, .nesterov = true}};
  for (const OptimizerConfig& c : configs) {
    auto whole = make_optimizer(c, 10), cut = make_optimizer(c, 10);
    std::vector<float> p(10), q(10), g(10);
    for (int i = 0; i < 10; ++i) p[i] = q[i] = 0.1f * i - 0.3f, g[i] = 0.05f * (i % 4) - 0.07f;
    for (int s = 0; s < 3; ++s) {
      whole->step(p, g, 0.1f, 0.5f);
      const std::span<float> qs(q);
      const std::span<const float> gs(g);
      const std::span<float> pieces[] = {qs.subspan(0, 3), qs.subspan(3, 0), qs.subspan(3, 7)};
      const std::span<const float> grads[] = {gs.subspan(0, 3), gs.subspan(3, 0), gs.subspan(3)};
      cut->step_pieces(pieces, grads, 0.1f, 0.5f);
    }
    EXPECT_EQ(p, q) << whole->name();
    EXPECT_EQ(snapshot_state(*whole), snapshot_state(*cut)) << whole->name();
    EXPECT_EQ(cut->steps(), 3);
    const std::span<float> short_piece[] = {std::span<float>(q).subspan(0, 9)};
    const std::span<const float> short_grad[] = {std::span<const float>(g).subspan(0, 9)};
    EXPECT_THROW(cut->step_pieces(short_piece, short_grad, 0.1f, 1.f), Error);
    const std::span<float> whole_piece[] = {std::span<float>(q)};
    EXPECT_THROW(cut->step_pieces(whole_piece, short_grad, 0.1f, 1.f), Error);
  }
}

TEST(LrSchedule, ExponentialDecay) {
  LrSchedule s{0.1f, 0.5f, 100, false};
  EXPECT_FLOAT_EQ(s.at(0), 0.1f);
  EXPECT_NEAR(s.at(100), 0.05f, 1e-7f);
  EXPECT_NEAR(s.at(50), 0.1f * std::sqrt(0.5f), 1e-7f);
  s.staircase = true;
  EXPECT_FLOAT_EQ(s.at(199), 0.05f);
  EXPECT_FLOAT_EQ(LrSchedule{0.3f}.at(123456), 0.3f);
}

TEST(OptimizerState, RestoresByNameAndRefusesTheWrongSize) {
  auto adam = make_optimizer({.kind = OptimizerKind::kAdam}, 4);
  NamedArrays saved = {{"m", {1, 2, 3, 4}}, {"v", {5, 6, 7, 8}}};
  restore_state(*adam, saved, 9);
  EXPECT_EQ(snapshot_state(*adam), saved);
  EXPECT_EQ(adam->steps(), 9);
  EXPECT_EQ(state_names(OptimizerKind::kAdam), (std::vector<std::string>{"m", "v"}));
  saved[1].second.pop_back();
  try {
    restore_state(*adam, saved, 9);
    FAIL() << "a state array of the wrong size was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'v'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dtrain::optim
