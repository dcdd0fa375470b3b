// Whole-network checks on a tiny batch: the gradient of the mean softmax cross-entropy with
// respect to every parameter, against finite differences through the same training network
// (same dropout masks, since they are keyed by step and example id).
#include <gtest/gtest.h>

#include <cmath>

#include "dtrain/nn/replica.h"
#include "dtrain/util/error.h"
#include "gradient_check.h"
#include "nn/softmax_cross_entropy.h"

namespace dtrain::nn {
namespace {

using dtrain::testing::check_gradient;
using dtrain::testing::expect_good;
using dtrain::testing::random_vector;

TEST(NetworkGradient, WholeSmallCnnMatchesFiniteDifferences) {
  const Model model(ModelSpec::parse("conv:3:4:relu,maxpool:2,conv:3:6:relu,maxpool:2,"
                                     "dense:8:relu,dropout:0.3,dense:10"),
                    Shape{1, 8, 8}, 10);
  Replica replica(model);
  model.init_params(replica.params().span(), 5);
  const int64_t batch = 3;
  auto images = random_vector(static_cast<std::size_t>(batch * 64), 9, 0.f, 1.f);
  std::vector<int32_t> labels{3, 7, 1};
  std::vector<int64_t> ids{10, 11, 12};
  const BatchView view{images.data(), labels.data(), ids.data(), batch, batch};
  const StepContext step{17, 4, nullptr};
  const float scale = 1.0f / batch;

  replica.train_batch(view, step, scale);
  std::vector<float> analytic(replica.grads().data(),
                              replica.grads().data() + replica.grads().size());
  auto loss = [&] { return replica.train_batch(view, step, scale).loss_sum / batch; };

  std::vector<float*> coords;
  std::vector<float> expected;
  for (const auto& t : model.layout().tensors()) {
    for (std::size_t i = 0; i < t.size; i += 1 + t.size / 40) {  // ~40 coordinates per tensor
      coords.push_back(&replica.params()[t.offset + i]);
      expected.push_back(analytic[t.offset + i]);
    }
  }
  expect_good(check_gradient(coords, expected, loss, 1e-3f), "network parameters");
}

TEST(NetworkGradient, PaddingRowsContributeNothing) {
  const Model model(ModelSpec::parse("dense:6:relu,dense:10"), Shape{1, 4, 4}, 10);
  Replica replica(model);
  model.init_params(replica.params().span(), 1);
  auto images = random_vector(4 * 16, 3, 0.f, 1.f);
  std::vector<int32_t> labels{1, 2, 0, 0};
  std::vector<int64_t> ids{0, 1, -1, -1};
  replica.train_batch({images.data(), labels.data(), ids.data(), 4, 2}, {1, 0, nullptr}, 0.5f);
  std::vector<float> padded(replica.grads().data(),
                            replica.grads().data() + replica.grads().size());
  // The same two rows in a batch of exactly two.
  replica.train_batch({images.data(), labels.data(), ids.data(), 2, 2}, {1, 0, nullptr}, 0.5f);
  for (std::size_t i = 0; i < padded.size(); ++i) {
    ASSERT_NEAR(padded[i], replica.grads()[i], 1e-6f) << i;
  }
}

TEST(SoftmaxCrossEntropy, GradientAndStability) {
  // Huge logits must not overflow: loss of the right class is ~0, of a wrong one ~ the gap.
  const float logits[2][3] = {{1000.f, -1000.f, 0.f}, {1000.f, 999.f, -50.f}};
  const int32_t labels[2] = {0, 1};
  float diff[6], probs[6];
  const auto s = softmax_cross_entropy(&logits[0][0], labels, 2, 2, 3, 0.5f, diff, probs);
  EXPECT_TRUE(std::isfinite(s.loss_sum));
  EXPECT_NEAR(s.loss_sum, 0.0 + (1.0 + std::log1p(std::exp(-1.0) + std::exp(-1050.0))), 1e-5);
  EXPECT_EQ(s.correct, 1);
  EXPECT_NEAR(probs[0], 1.f, 1e-6f);
  EXPECT_NEAR(diff[4], 0.5f * (probs[4] - 1.f), 1e-6f);
  // Finite differences in double on small logits.
  auto z = random_vector(10, 4);
  const int32_t y = 6;
  float d[10];
  softmax_cross_entropy(z.data(), &y, 1, 1, 10, 1.f, d, nullptr);
  for (int c = 0; c < 10; ++c) {
    const float saved = z[c];
    z[c] = saved + 1e-2f;
    const double lp = softmax_cross_entropy(z.data(), &y, 1, 1, 10, 0, nullptr, nullptr).loss_sum;
    z[c] = saved - 1e-2f;
    const double lm = softmax_cross_entropy(z.data(), &y, 1, 1, 10, 0, nullptr, nullptr).loss_sum;
    z[c] = saved;
    EXPECT_NEAR(d[c], (lp - lm) / 2e-2, 1e-3) << c;
  }
}

TEST(Model, DefaultCnnHasTheReferenceShape) {
  const Model model(ModelSpec::parse("cnn"), Shape{1, 28, 28}, 10);
  EXPECT_EQ(model.layout().parameter_count(), 3274634u);  // as the PyTorch reference
  EXPECT_EQ(model.layout().find("dense1/kernel").shape, (std::vector<int64_t>{1024, 64, 7, 7}));
  EXPECT_EQ(2 * model.forward_macs(),
            2 * (28 * 28 * 32 * 25 + 14 * 14 * 64 * 800 + 3136 * 1024 + 10240));
}

TEST(ModelSpec, RejectsBadLayerListsWithTheOptionName) {
  for (const char* bad : {"conv:5", "conv:x:3", "dropout:1.5", "dense:10:relu", "pool:2,dense:10",
                          "conv:5:32,dense:0"}) {
    try {
      ModelSpec::parse(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const OptionError& e) {
      EXPECT_NE(std::string(e.what()).find("--arch"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(ModelSpec::parse("mlp").text(), "dense:128:relu,dropout:0.2,dense:10");
  EXPECT_THROW(Model(ModelSpec::parse("dense:7"), Shape{1, 28, 28}, 10), OptionError);
}

}  // namespace
}  // namespace dtrain::nn
