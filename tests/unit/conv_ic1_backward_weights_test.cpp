// dtrain's backward-weights loops for one-input-channel convolutions (nn/conv_ic1_backward_
// weights.h) against oneDNN's own backward-weights primitive on the same random data, for
// every kernel size they take (odd and even, so both SAME padding splits), images smaller than
// the kernel, 16-96 filters and batches smaller than the thread count; and the geometries
// they refuse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>

#include "dtrain/util/error.h"
#include "gradient_check.h"
#include "nn/conv_ic1_backward_weights.h"
#include "nn/dnnl_context.h"

namespace dtrain::nn {
namespace {

using dtrain::testing::random_vector;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct Ic1Case {
  int batch, h, w, filters, kernel;
};

void PrintTo(const Ic1Case& c, std::ostream* os) {
  *os << "batch " << c.batch << ", " << c.h << "x" << c.w << ", " << c.filters
      << " filters, kernel " << c.kernel;
}

// oneDNN's answer: diff_w (oihw) then diff_b, for src nchw and diff_dst nhwc.
std::vector<float> onednn_reference(const Ic1Case& c, std::vector<float>& src,
                                    std::vector<float>& dy) {
  DnnlContext ctx;
  const int64_t k = c.kernel, pl = (k - 1) / 2, pr = k - 1 - pl;
  const dnnl::memory::desc src_md({c.batch, 1, c.h, c.w}, dt::f32, tag::nchw);
  const dnnl::memory::desc dst_md({c.batch, c.filters, c.h, c.w}, dt::f32, tag::nhwc);
  const dnnl::memory::desc w_md({c.filters, 1, k, k}, dt::f32, tag::oihw);
  const dnnl::memory::desc b_md({c.filters}, dt::f32, tag::a);
  const dnnl::memory::dims strides{1, 1}, pad_l{pl, pl}, pad_r{pr, pr};
  dnnl::convolution_forward::primitive_desc fwd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, src_md, w_md, b_md,
                                      dst_md, strides, pad_l, pad_r),
      ctx.engine);
  dnnl::convolution_backward_weights::primitive_desc bw(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, src_md, w_md,
                                               b_md, dst_md, strides, pad_l, pad_r),
      ctx.engine, fwd);
  std::vector<float> out(static_cast<std::size_t>(c.filters * k * k + c.filters));
  dnnl::memory s(src_md, ctx.engine, src.data()), d(dst_md, ctx.engine, dy.data());
  dnnl::memory w(w_md, ctx.engine, out.data()), b(b_md, ctx.engine, out.data() + c.filters * k * k);
  dnnl::convolution_backward_weights(bw).execute(ctx.stream, {{DNNL_ARG_SRC, s},
                                                              {DNNL_ARG_DIFF_DST, d},
                                                              {DNNL_ARG_DIFF_WEIGHTS, w},
                                                              {DNNL_ARG_DIFF_BIAS, b}});
  ctx.stream.wait();
  return out;
}

class Ic1BackwardWeights : public ::testing::TestWithParam<Ic1Case> {};

TEST_P(Ic1BackwardWeights, MatchesOneDnn) {
  const Ic1Case c = GetParam();
  auto src = random_vector(static_cast<std::size_t>(c.batch * c.h * c.w), 7);
  auto dy = random_vector(static_cast<std::size_t>(c.batch * c.h * c.w * c.filters), 11);
  const std::vector<float> want = onednn_reference(c, src, dy);
  const Ic1ConvGeometry g{c.batch, c.h, c.w, c.filters, c.kernel};
  ASSERT_TRUE(conv_ic1_backward_weights_supported(g));
  const int64_t taps = int64_t{c.kernel} * c.kernel;
  std::vector<float> got(want.size(), std::nanf(""));
  conv_ic1_backward_weights(g, src.data(), dy.data(), got.data(), got.data() + c.filters * taps);
  for (std::size_t i = 0; i < want.size(); ++i) {
    // Sums of up to batch*h*w products of values in [-1, 1], in another order than oneDNN's.
    const float tol = 2e-5f * static_cast<float>(c.batch * c.h * c.w) + 1e-4f;
    ASSERT_NEAR(got[i], want[i], tol)
        << (i < want.size() - static_cast<std::size_t>(c.filters) ? "weight " : "bias ") << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, Ic1BackwardWeights,
                         ::testing::Values(Ic1Case{5, 28, 28, 32, 5}, Ic1Case{1, 9, 7, 16, 3},
                                           Ic1Case{3, 6, 11, 48, 4}, Ic1Case{2, 3, 2, 16, 7},
                                           Ic1Case{4, 5, 5, 96, 1}, Ic1Case{3, 8, 8, 32, 2},
                                           Ic1Case{2, 10, 6, 16, 6}));

TEST(Ic1BackwardWeights, SameBitsOnEveryCall) {
  const Ic1ConvGeometry g{6, 12, 12, 32, 5};
  auto src = random_vector(static_cast<std::size_t>(6 * 144), 3);
  auto dy = random_vector(static_cast<std::size_t>(6 * 144 * 32), 4);
  std::vector<float> a(32 * 26), b(32 * 26);
  conv_ic1_backward_weights(g, src.data(), dy.data(), a.data(), a.data() + 32 * 25);
  conv_ic1_backward_weights(g, src.data(), dy.data(), b.data(), b.data() + 32 * 25);
  EXPECT_EQ(a, b);
}

TEST(Ic1BackwardWeights, RefusesWhatItCannotDo) {
  EXPECT_FALSE(conv_ic1_backward_weights_supported({4, 28, 28, 24, 5}));  // filters % 16
  EXPECT_FALSE(conv_ic1_backward_weights_supported({4, 28, 28, 32, 9}));  // kernel > 7
  EXPECT_FALSE(conv_ic1_backward_weights_supported({0, 28, 28, 32, 5}));  // empty batch
  float sink[64];
  EXPECT_THROW(conv_ic1_backward_weights({4, 28, 28, 24, 5}, sink, sink, sink, sink), Error);
}

}  // namespace
}  // namespace dtrain::nn
