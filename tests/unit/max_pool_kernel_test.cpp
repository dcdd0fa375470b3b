// The hand-written 2x2 max pool (nn/max_pool_kernel.h) against a plain reference computed
// here on nchw data, in every layout it takes: nchw, nChw8c and nChw16c (channel counts that
// pad the last block included), even and odd sizes, with and without the fused ReLU, and
// diff_src in the input's layout and in nhwc where the kernel writes that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "gradient_check.h"
#include "nn/dnnl_context.h"
#include "nn/max_pool_kernel.h"

namespace dtrain::nn {
namespace {

using dtrain::testing::random_vector;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct PoolCase {
  int channels, size;
  tag layout;
};

// Plain nchw reference: the pooled values and d(src) for a given d(dst).
struct Reference {
  std::vector<float> dst, diff_src;
};

Reference reference(const std::vector<float>& x, const std::vector<float>& dy, int n, int c, int h,
                    int w, bool relu) {
  const int oh = h / 2, ow = w / 2;
  Reference r{std::vector<float>(static_cast<std::size_t>(n * c * oh * ow)),
              std::vector<float>(x.size(), 0.f)};
  for (int p = 0; p < n * c; ++p) {
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        int best = (p * h + 2 * i) * w + 2 * j;
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) {
            const int at = (p * h + 2 * i + a) * w + 2 * j + b;
            if (x[static_cast<std::size_t>(at)] > x[static_cast<std::size_t>(best)]) best = at;
          }
        const std::size_t o = static_cast<std::size_t>((p * oh + i) * ow + j);
        const float m = x[static_cast<std::size_t>(best)];
        r.dst[o] = relu ? std::max(m, 0.f) : m;
        if (!relu || m > 0.f) r.diff_src[static_cast<std::size_t>(best)] = dy[o];
      }
    }
  }
  return r;
}

class MaxPoolKernel : public ::testing::TestWithParam<PoolCase> {};

TEST_P(MaxPoolKernel, MatchesThePlainReference) {
  const PoolCase pc = GetParam();
  const int n = 3, c = pc.channels, h = pc.size, w = pc.size;
  DnnlContext ctx;
  const dnnl::memory::dims in_dims{n, c, h, w}, out_dims{n, c, h / 2, w / 2};
  const dnnl::memory::desc in_plain(in_dims, dt::f32, tag::nchw),
      out_plain(out_dims, dt::f32, tag::nchw);
  const dnnl::memory::desc in_desc(in_dims, dt::f32, pc.layout),
      out_desc(out_dims, dt::f32, pc.layout);
  const auto g = pool_geometry(in_desc);
  ASSERT_TRUE(g.has_value());

  auto x = random_vector(static_cast<std::size_t>(n * c * h * w), 7);
  x[5] = x[4];  // a tie: the first maximum wins, in the reference as in the kernel
  auto dy = random_vector(static_cast<std::size_t>(n * c * (h / 2) * (w / 2)), 8);
  for (bool relu : {false, true}) {
    const Reference want = reference(x, dy, n, c, h, w, relu);
    dnnl::memory x_user(in_plain, ctx.engine, x.data()), x_in(in_desc, ctx.engine);
    dnnl::memory dy_user(out_plain, ctx.engine, dy.data()), dy_in(out_desc, ctx.engine);
    reorder_now(ctx, x_user, x_in);
    reorder_now(ctx, dy_user, dy_in);
    dnnl::memory y(out_desc, ctx.engine);
    std::vector<uint8_t> argmax(static_cast<std::size_t>(g->out_elements()));
    max_pool2x2_forward(*g, static_cast<float*>(x_in.get_data_handle()),
                        static_cast<float*>(y.get_data_handle()), argmax.data(), relu);
    std::vector<float> got_y(want.dst.size());
    dnnl::memory y_user(out_plain, ctx.engine, got_y.data());
    reorder_now(ctx, y, y_user);
    EXPECT_EQ(got_y, want.dst) << "forward, relu " << relu;

    for (const tag dx_layout : {pc.layout, tag::nhwc}) {
      if (!pool_writes_diff_src_as(*g, dx_layout)) continue;
      const dnnl::memory::desc dx_desc(in_dims, dt::f32, dx_layout);
      dnnl::memory dx(dx_desc, ctx.engine);
      std::fill_n(static_cast<float*>(dx.get_data_handle()), dx_desc.get_size() / sizeof(float),
                  9.f);
      max_pool2x2_backward(*g, static_cast<float*>(dy_in.get_data_handle()), argmax.data(),
                           static_cast<float*>(dx.get_data_handle()), dx_layout);
      std::vector<float> got_dx(want.diff_src.size());
      dnnl::memory dx_user(in_plain, ctx.engine, got_dx.data());
      reorder_now(ctx, dx, dx_user);
      EXPECT_EQ(got_dx, want.diff_src)
          << "backward, relu " << relu << ", diff_src nhwc " << (dx_layout == tag::nhwc);
    }
  }
}

// bf16 activations (inference): inputs that bf16 holds exactly give the reference's bits.
TEST_P(MaxPoolKernel, Bf16ForwardMatchesThePlainReference) {
  const PoolCase pc = GetParam();
  const int n = 3, c = pc.channels, h = pc.size, w = pc.size;
  DnnlContext ctx;
  const dnnl::memory::dims in_dims{n, c, h, w}, out_dims{n, c, h / 2, w / 2};
  const dnnl::memory::desc in_desc(in_dims, dt::bf16, pc.layout),
      out_desc(out_dims, dt::bf16, pc.layout);
  const auto g = pool_geometry(in_desc);
  ASSERT_TRUE(g.has_value());
  ASSERT_TRUE(g->bf16);
  auto x = random_vector(static_cast<std::size_t>(n * c * h * w), 7);
  for (float& v : x) {  // keep the upper half: a value bf16 holds
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits &= 0xffff0000u;
    std::memcpy(&v, &bits, sizeof v);
  }
  x[5] = x[4];
  const std::vector<float> dy(static_cast<std::size_t>(n * c * (h / 2) * (w / 2)));
  for (bool relu : {false, true}) {
    const Reference want = reference(x, dy, n, c, h, w, relu);
    dnnl::memory x_user(dnnl::memory::desc(in_dims, dt::f32, tag::nchw), ctx.engine, x.data());
    dnnl::memory x_in(in_desc, ctx.engine), y(out_desc, ctx.engine);
    reorder_now(ctx, x_user, x_in);
    max_pool2x2_forward_bf16(*g, static_cast<const uint16_t*>(x_in.get_data_handle()),
                             static_cast<uint16_t*>(y.get_data_handle()), relu);
    std::vector<float> got(want.dst.size());
    dnnl::memory y_user(dnnl::memory::desc(out_dims, dt::f32, tag::nchw), ctx.engine, got.data());
    reorder_now(ctx, y, y_user);
    EXPECT_EQ(got, want.dst) << "relu " << relu;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, MaxPoolKernel,
                         ::testing::Values(PoolCase{3, 6, tag::nchw}, PoolCase{3, 7, tag::nchw},
                                           PoolCase{16, 8, tag::nChw8c},
                                           PoolCase{12, 7, tag::nChw8c},
                                           PoolCase{32, 6, tag::nChw16c},
                                           PoolCase{20, 5, tag::nChw16c}),
                         [](const ::testing::TestParamInfo<PoolCase>& p) {
                           const auto& c = p.param;
                           const char* layout = c.layout == tag::nchw     ? "nchw"
                                                : c.layout == tag::nChw8c ? "nChw8c"
                                                                          : "nChw16c";
                           return std::string(layout) + "_c" + std::to_string(c.channels) + "_" +
                                  std::to_string(c.size) + "px";
                         });

TEST(MaxPoolKernel, TakesOnlyLayoutsItReads) {
  const dnnl::memory::dims d{2, 8, 6, 6};
  EXPECT_TRUE(pool_geometry(dnnl::memory::desc(d, dt::f32, tag::nChw8c)).has_value());
  EXPECT_FALSE(pool_geometry(dnnl::memory::desc(d, dt::f32, tag::nhwc)).has_value());
  EXPECT_TRUE(pool_geometry(dnnl::memory::desc(d, dt::bf16, tag::nchw))->bf16);
  EXPECT_FALSE(pool_geometry(dnnl::memory::desc(d, dt::s8, tag::nchw)).has_value());
  const auto padded = pool_geometry(dnnl::memory::desc({2, 20, 6, 6}, dt::f32, tag::nChw16c));
  EXPECT_EQ(padded->channel_blocks, 2);
  EXPECT_FALSE(pool_writes_diff_src_as(*padded, tag::nhwc));  // 20 channels: a partial block
  EXPECT_TRUE(pool_writes_diff_src_as(*padded, tag::nChw16c));
  EXPECT_FALSE(pool_writes_diff_src_as(*padded, tag::nchw));
}

}  // namespace
}  // namespace dtrain::nn
