// --precision bf16 (dtrain/nn/precision.h): where the CPU computes bf16 natively, a bf16 replica
// gives the loss and gradients of an fp32 one up to bf16's rounding, through every layer kind
// it changes (convolutions after the first, dense layers) and the ones it does not (conv1,
// ReLU, pooling, dropout). Elsewhere the request is refused, not emulated:
// tests/integration/precision.sh checks the refusal on every machine.
#include <gtest/gtest.h>

#include <cmath>

#include "dtrain/nn/replica.h"
#include "dtrain/util/error.h"
#include "gradient_check.h"

namespace dtrain::nn {
namespace {

using dtrain::testing::random_vector;

struct Step {
  double loss = 0;
  std::vector<float> grads;
};

Step one_step(const Model& model, Precision precision, const std::vector<float>& params) {
  Replica replica(model, nullptr, precision);
  std::copy(params.begin(), params.end(), replica.params().data());
  const int64_t batch = 16;
  const auto images = random_vector(static_cast<std::size_t>(batch * 28 * 28), 3, 0.f, 1.f);
  std::vector<int32_t> labels(static_cast<std::size_t>(batch));
  std::vector<int64_t> ids(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i] = static_cast<int32_t>(i % 10);
    ids[i] = static_cast<int64_t>(i);
  }
  const LossStats s = replica.train_batch({images.data(), labels.data(), ids.data(), batch, batch},
                                          {7, 1, nullptr}, 1.f / batch);
  return {s.loss_sum / batch,
          {replica.grads().data(), replica.grads().data() + replica.grads().size()}};
}

// Per tensor: the relative L2 error of bf16's gradient against fp32's.
void expect_close(const Model& model, const Step& f32, const Step& bf16, double tolerance) {
  for (const auto& t : model.layout().tensors()) {
    double diff = 0, norm = 0;
    for (std::size_t i = t.offset; i < t.offset + t.size; ++i) {
      diff += std::pow(static_cast<double>(bf16.grads[i]) - f32.grads[i], 2);
      norm += std::pow(static_cast<double>(f32.grads[i]), 2);
    }
    ASSERT_GT(norm, 0.0) << t.name;
    EXPECT_LT(std::sqrt(diff / norm), tolerance) << t.name;
  }
  EXPECT_NEAR(bf16.loss, f32.loss, 2e-3 * f32.loss);
  EXPECT_NE(bf16.grads, f32.grads);  // bf16 is not fp32 under another name
}

Step step_in(const Model& model, Precision precision) {
  std::vector<float> params(model.layout().total());
  model.init_params(params, 1);
  return one_step(model, precision, params);
}

// Without ReLUs every difference is bf16's rounding: about 0.5% per tensor (measured), where a
// wrong layout or a missed conversion gives errors of order one.
TEST(Bf16, GradientsFollowFp32ToBf16Rounding) {
  if (!cpu_has_native_bf16())
    GTEST_SKIP() << "this CPU lacks AVX512_BF16: bf16 is refused here (precision.sh checks it)";
  const Model model(ModelSpec::parse("conv:3:4,conv:3:8,dense:16,dense:10"), Shape{1, 28, 28}, 10);
  expect_close(model, step_in(model, Precision::kFp32), step_in(model, Precision::kBf16), 0.02);
}

// The CNN's layers: a ReLU or max-pool whose input is near a tie can decide the other way in
// bf16 and send a gradient elsewhere, so the layers below differ more (5-8% measured).
TEST(Bf16, CnnGradientsFollowFp32) {
  if (!cpu_has_native_bf16())
    GTEST_SKIP() << "this CPU lacks AVX512_BF16: bf16 is refused here (precision.sh checks it)";
  const Model model(ModelSpec::parse("cnn-small"), Shape{1, 28, 28}, 10);
  expect_close(model, step_in(model, Precision::kFp32), step_in(model, Precision::kBf16), 0.2);
}

// Inference keeps every image activation in bf16 (convolutions write bf16, the pools read and
// write it): the probabilities and the features follow fp32's within bf16's rounding, through
// dtrain's 2x2 pool, oneDNN's pooling (3x3) and a first convolution that is now bf16 too.
TEST(Bf16, InferenceFollowsFp32) {
  if (!cpu_has_native_bf16())
    GTEST_SKIP() << "this CPU lacks AVX512_BF16: bf16 is refused here (precision.sh checks it)";
  for (const char* spec : {"cnn-small", "conv:3:16:relu,maxpool:3,conv:3:32,dense:10"}) {
    const Model model(ModelSpec::parse(spec), Shape{1, 28, 28}, 10);
    std::vector<float> params(model.layout().total());
    model.init_params(params, 1);
    const int64_t batch = 32;
    const auto images = random_vector(static_cast<std::size_t>(batch * 28 * 28), 3, 0.f, 1.f);
    const int64_t width = model.output_width(model.feature_layer());
    auto infer = [&](Precision precision, std::vector<float>& features) {
      Replica replica(model, nullptr, precision);
      std::copy(params.begin(), params.end(), replica.params().data());
      std::vector<float> probs(static_cast<std::size_t>(batch * 10));
      features.resize(static_cast<std::size_t>(batch * width));
      replica.eval_batch({images.data(), nullptr, nullptr, batch, batch}, probs.data(),
                         features.data());
      return probs;
    };
    std::vector<float> f32_features, bf16_features;
    const auto f32 = infer(Precision::kFp32, f32_features);
    const auto bf16 = infer(Precision::kBf16, bf16_features);
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < f32_features.size(); ++i) {
      diff += std::pow(static_cast<double>(bf16_features[i]) - f32_features[i], 2);
      norm += std::pow(static_cast<double>(f32_features[i]), 2);
    }
    ASSERT_GT(norm, 0.0) << spec;
    EXPECT_LT(std::sqrt(diff / norm), 0.03) << spec << ": features";
    for (std::size_t i = 0; i < f32.size(); ++i)
      ASSERT_NEAR(bf16[i], f32[i], 0.02) << spec << ": probability " << i;
    EXPECT_NE(f32, bf16) << spec;  // bf16 is not fp32 under another name
  }
}

TEST(Bf16, ResolvesTheRequest) {
  std::string why;
  EXPECT_EQ(resolve_precision("fp32", &why), Precision::kFp32);
  const Precision picked = resolve_precision("auto", &why);
  EXPECT_EQ(picked, cpu_has_native_bf16() ? Precision::kBf16 : Precision::kFp32) << why;
  EXPECT_NE(why.find("auto"), std::string::npos) << why;
  EXPECT_THROW(resolve_precision("fp16"), OptionError);
  if (cpu_has_native_bf16()) {
    EXPECT_EQ(resolve_precision("bf16"), Precision::kBf16);
  } else {
    try {
      resolve_precision("bf16");
      ADD_FAILURE() << "bf16 accepted on a CPU without AVX512_BF16";
    } catch (const OptionError& e) {
      EXPECT_NE(std::string(e.what()).find("AVX512_BF16"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace dtrain::nn
