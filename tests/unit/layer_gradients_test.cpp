// Finite-difference checks of every layer type, each run alone through its oneDNN primitives:
// loss = sum(R * layer(x)) for a fixed random R, so d loss/d output = R.
#include <gtest/gtest.h>

#include "dtrain/util/aligned_buffer.h"
#include "gradient_check.h"
#include "nn/conv2d.h"
#include "nn/dense.h"
#include "nn/dropout.h"
#include "nn/max_pool2d.h"

namespace dtrain::nn {
namespace {

using dtrain::testing::check_gradient;
using dtrain::testing::expect_good;
using dtrain::testing::random_vector;
using dt = dnnl::memory::data_type;

class LayerHarness {
 public:
  LayerHarness(const Layer& layer, const ParameterLayout& layout, int64_t batch, uint64_t seed)
      : layer_(layer), params_(layout.total()), grads_(layout.total()) {
    auto p = random_vector(layout.total(), seed, -0.5f, 0.5f);
    std::copy(p.begin(), p.end(), params_.data());
    x_ = random_vector(static_cast<std::size_t>(batch * layer.in_shape().size()), seed + 1);
    r_ = random_vector(static_cast<std::size_t>(batch * layer.out_shape().size()), seed + 2);
    const auto in_dims = activation_dims(batch, layer.in_shape());
    in_desc_ = dnnl::memory::desc(in_dims, dt::f32, plain_tag(static_cast<int>(in_dims.size())));
    const auto out_dims = activation_dims(batch, layer.out_shape());
    out_desc_ = dnnl::memory::desc(out_dims, dt::f32, plain_tag(static_cast<int>(out_dims.size())));
    CompileArgs args{&ctx_, batch, true, true, in_desc_, params_.data(), grads_.data()};
    instance_ = layer.compile(args);
  }

  double loss() {
    dnnl::memory src(in_desc_, ctx_.engine, x_.data());
    const dnnl::memory& y = instance_->forward(src, step_);
    const dnnl::memory& plain = out_adapter_.adapt(ctx_, y, out_desc_);
    ctx_.stream.wait();
    const auto* v = static_cast<const float*>(plain.get_data_handle());
    double l = 0;
    for (std::size_t i = 0; i < r_.size(); ++i) l += static_cast<double>(r_[i]) * v[i];
    return l;
  }

  // Runs forward and backward; returns d loss / d x, leaves parameter gradients in grads().
  std::vector<float> backward() {
    loss();
    dnnl::memory dy(out_desc_, ctx_.engine, r_.data());
    const dnnl::memory* dx = instance_->backward(dy);
    std::vector<float> out(x_.size(), 0.f);
    if (dx) {
      dnnl::memory plain(in_desc_, ctx_.engine, out.data());
      reorder_now(ctx_, *dx, plain);
    }
    ctx_.stream.wait();
    return out;
  }

  void check_input_gradient(const char* what) {
    const auto analytic = backward();
    std::vector<float*> coords;
    for (auto& x : x_) coords.push_back(&x);
    expect_good(check_gradient(
                    coords, analytic, [&] { return loss(); }, 1e-3f),
                what);
  }

  // Large layers are checked on every 7th parameter: two forward passes per coordinate make
  // the full check minutes long under the sanitizers, and 7 is prime to every kernel and channel
  // count here, so the sample still covers every (channel, row, column) position.
  void check_param_gradient(const char* what) {
    backward();
    const ParamRange range = layer_.param_range();
    const std::size_t stride = range.end - range.begin > 2000 ? 7 : 1;
    std::vector<float*> coords;
    std::vector<float> analytic;
    for (std::size_t i = range.begin; i < range.end; i += stride) {
      coords.push_back(&params_[i]);
      analytic.push_back(grads_[i]);
    }
    expect_good(check_gradient(
                    coords, analytic, [&] { return loss(); }, 1e-3f),
                what);
  }

  StepContext step_{7, 3, nullptr};

 private:
  const Layer& layer_;
  DnnlContext ctx_;
  AlignedBuffer params_, grads_;
  std::vector<float> x_, r_;
  dnnl::memory::desc in_desc_, out_desc_;
  std::unique_ptr<LayerInstance> instance_;
  LayoutAdapter out_adapter_;
};

struct ConvCase {
  int channels, size, kernel, filters;
  bool relu;
};

class ConvGradient : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGradient, MatchesFiniteDifferences) {
  const ConvCase c = GetParam();
  ParameterLayout layout;
  Conv2D conv("conv", Shape{c.channels, c.size, c.size}, c.kernel, c.filters, c.relu, layout);
  EXPECT_EQ(conv.out_shape(), (Shape{c.filters, c.size, c.size}));  // SAME padding
  LayerHarness h(conv, layout, 2, 11);
  h.check_param_gradient("conv parameters");
  h.check_input_gradient("conv input");
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvGradient,
                         ::testing::Values(ConvCase{1, 8, 5, 4, true},    // first layer, ic = 1
                                           ConvCase{1, 7, 5, 16, false},  // ic = 1, dtrain's loops
                                           ConvCase{1, 6, 4, 16, true},   // the same, even kernel
                                           ConvCase{3, 6, 3, 4, false},   // no ReLU
                                           ConvCase{16, 5, 5, 16, true},  // blocked layouts
                                           ConvCase{2, 6, 4, 3,
                                                    true}),  // even kernel: asymmetric SAME
                         [](const ::testing::TestParamInfo<ConvCase>& p) {
                           const auto& c = p.param;
                           return "ic" + std::to_string(c.channels) + "_" + std::to_string(c.size) +
                                  "px_k" + std::to_string(c.kernel) + "_oc" +
                                  std::to_string(c.filters) + (c.relu ? "_relu" : "");
                         });

TEST(MaxPoolGradient, MatchesFiniteDifferences) {
  for (int size : {6, 7}) {  // 7: the last row and column fall outside every window (VALID)
    ParameterLayout layout;
    MaxPool2D pool("pool", Shape{3, size, size}, 2);
    EXPECT_EQ(pool.out_shape(), (Shape{3, size / 2, size / 2}));
    LayerHarness h(pool, layout, 2, 21);
    h.check_input_gradient("maxpool input");
  }
}

// Windows other than 2x2 run on oneDNN's pooling.
TEST(MaxPoolGradient, OtherWindowsMatchFiniteDifferences) {
  for (bool relu : {false, true}) {
    ParameterLayout layout;
    MaxPool2D pool("pool", Shape{4, 7, 7}, 3, relu);
    EXPECT_EQ(pool.out_shape(), (Shape{4, 2, 2}));
    LayerHarness h(pool, layout, 2, 23);
    h.check_input_gradient("3x3 maxpool input");
  }
}

TEST(MaxPoolGradient, WithFusedReluMatchesFiniteDifferences) {
  for (int size : {6, 7}) {
    ParameterLayout layout;
    MaxPool2D pool("pool", Shape{16, size, size}, 2, true);
    EXPECT_EQ(pool.out_shape(), (Shape{16, size / 2, size / 2}));
    LayerHarness h(pool, layout, 2, 21);
    h.check_input_gradient("maxpool + ReLU input");
  }
}

TEST(DenseGradient, FromImageShapedInput) {
  for (bool relu : {false, true}) {
    ParameterLayout layout;
    Dense dense("dense", Shape{3, 4, 4}, 5, relu, layout);
    EXPECT_EQ(layout.find("dense/kernel").shape, (std::vector<int64_t>{5, 3, 4, 4}));
    LayerHarness h(dense, layout, 3, 31);
    h.check_param_gradient("dense parameters");
    h.check_input_gradient("dense input");
  }
}

TEST(DenseGradient, FromVectorInput) {
  ParameterLayout layout;
  Dense dense("dense", Shape{12, 1, 1, true}, 7, true, layout);
  LayerHarness h(dense, layout, 4, 41);
  h.check_param_gradient("dense parameters");
  h.check_input_gradient("dense input");
}

TEST(DropoutGradient, MatchesFiniteDifferencesWithTheSameMask) {
  ParameterLayout layout;
  Dropout drop("dropout", Shape{20, 1, 1, true}, 0.4f);
  LayerHarness h(drop, layout, 3, 51);
  h.check_input_gradient("dropout input");
}

TEST(Dropout, MaskDependsOnlyOnSeedStepAndExample) {
  std::vector<float> a(1024), b(1024), c(1024), d(1024);
  dropout_mask(1, 5, 42, 0.4f, a);
  dropout_mask(1, 5, 42, 0.4f, b);
  dropout_mask(1, 6, 42, 0.4f, c);
  dropout_mask(1, 5, 43, 0.4f, d);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  int kept = 0;
  for (float m : a) {
    EXPECT_TRUE(m == 0.f || std::abs(m - 1.f / 0.6f) < 1e-6f);
    kept += m != 0.f;
  }
  EXPECT_NEAR(kept / 1024.0, 0.6, 0.06);  // keep probability 1 - rate
}

}  // namespace
}  // namespace dtrain::nn
