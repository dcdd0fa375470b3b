// The per-level copies of dtrain's own loops (util/isa_level.h) against the baseline copy on
// every level this CPU runs (the others are named and skipped): the pooling and Adam give the
// same bits (the pool's bf16 forward too; Adam must: replicas on CPUs of different levels would
// drift apart), conv1's backward-weights the same sums up to FMA's single rounding. And a native
// build's start-up check names what a CPU lacks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "gradient_check.h"
#include "nn/isa/loops.h"
#include "optim/isa/adam_loop.h"

namespace dtrain {
namespace {

using dtrain::testing::random_vector;

// The levels above the baseline that this CPU runs; those it lacks are printed.
std::vector<IsaLevel> runnable_levels() {
  std::vector<IsaLevel> levels;
  for (IsaLevel l : {IsaLevel::v3, IsaLevel::v4}) {
    if (l <= cpu_isa_level()) {
      levels.push_back(l);
    } else {
      std::printf("this CPU (%s) does not run %s: its copy is not compared\n",
                  isa_level_name(cpu_isa_level()), isa_level_name(l));
    }
  }
  return levels;
}

template <class Fn>
Fn copy_for(IsaLevel level, Fn x86_64, Fn v3, Fn v4) {
  return level == IsaLevel::v4 ? v4 : level == IsaLevel::v3 ? v3 : x86_64;
}
#define DTRAIN_COPY(level, ns, name) \
  copy_for(level, &ns::isa_x86_64::name, &ns::isa_v3::name, &ns::isa_v4::name)

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(IsaLevel, PoolCopiesGiveTheSameBits) {
  // nChw16c, 2 images of 32 channels, 10x10: conv1's pooling in small.
  const nn::PoolGeometry g{2, 32, 2, 10, 10, 16, dnnl::memory::format_tag::nChw16c};
  const auto x = random_vector(static_cast<std::size_t>(g.batch * 32 * g.h * g.w), 1);
  const auto dy = random_vector(static_cast<std::size_t>(g.out_elements()), 2);
  std::vector<uint16_t> x16(x.size());  // the upper halves: bf16
  for (std::size_t i = 0; i < x.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    x16[i] = static_cast<uint16_t>(bits >> 16);
  }
  auto run = [&](IsaLevel level, std::vector<float>& y, std::vector<float>& dx,
                 std::vector<uint16_t>& y16) {
    std::vector<uint8_t> argmax(y.size());
    DTRAIN_COPY(level, nn, pool_forward)(g, x.data(), y.data(), argmax.data(), true);
    DTRAIN_COPY(level, nn, pool_backward)(g, dy.data(), argmax.data(), dx.data(), true);
    DTRAIN_COPY(level, nn, pool_forward_bf16)(g, x16.data(), y16.data(), true);
  };
  std::vector<float> y0(dy.size()), dx0(x.size());
  std::vector<uint16_t> y16_0(dy.size());
  run(IsaLevel::x86_64, y0, dx0, y16_0);
  for (IsaLevel level : runnable_levels()) {
    std::vector<float> y(dy.size()), dx(x.size());
    std::vector<uint16_t> y16(dy.size());
    run(level, y, dx, y16);
    EXPECT_TRUE(same_bits(y0, y) && same_bits(dx0, dx)) << isa_level_name(level);
    EXPECT_EQ(y16_0, y16) << isa_level_name(level) << ": bf16";
  }
}

TEST(IsaLevel, ConvIc1CopiesGiveTheSameSums) {
  const nn::Ic1ConvGeometry g{3, 12, 12, 32, 5};
  const auto x = random_vector(static_cast<std::size_t>(g.batch * g.h * g.w), 3);
  const auto dy = random_vector(static_cast<std::size_t>(g.batch * g.h * g.w * g.filters), 4);
  const std::size_t per_thread = static_cast<std::size_t>((g.kernel * g.kernel + 1) * g.filters);
  auto run = [&](IsaLevel level) {
    std::vector<float> partials(2 * per_thread, 0.f);
    DTRAIN_COPY(level, nn, conv_ic1_partials)(g, 2, x.data(), dy.data(), partials.data());
    return partials;
  };
  const auto base = run(IsaLevel::x86_64);
  for (IsaLevel level : runnable_levels()) {
    const auto other = run(level);
    ASSERT_EQ(base.size(), other.size());
    // 12 images x 12 rows of multiply-adds per sum: FMA's one rounding against two.
    for (std::size_t i = 0; i < base.size(); ++i)
      ASSERT_NEAR(base[i], other[i], 1e-5f * (1.f + std::abs(base[i])))
          << isa_level_name(level) << " at " << i;
  }
}

TEST(IsaLevel, AdamCopiesGiveTheSameBits) {
  const int64_t n = 1000;  // not a multiple of any vector width
  const auto g = random_vector(n, 5);
  const optim::AdamCoefficients c{0.9f, 0.999f, 1e-8f, 1e-4f, 1e-3f / 0.1f, 1.f / 0.0316f, 0.5f};
  auto run = [&](IsaLevel level) {
    auto p = random_vector(n, 6), m = random_vector(n, 7), v = random_vector(n, 8);
    for (auto& x : v) x = x * x;  // a second moment is never negative
    DTRAIN_COPY(level, optim, adam_update)(p.data(), g.data(), m.data(), v.data(), n, c);
    p.insert(p.end(), m.begin(), m.end());
    p.insert(p.end(), v.begin(), v.end());
    return p;
  };
  const auto base = run(IsaLevel::x86_64);
  for (IsaLevel level : runnable_levels())
    EXPECT_TRUE(same_bits(base, run(level))) << isa_level_name(level);
}

bool cpu_without_bf16(std::string_view f) {
  return f != "avx512bf16";
}

TEST(IsaLevel, ANativeBuildNamesWhatTheCpuLacks) {
  const std::string built_for = "avx2 fma avx512f avx512bf16";
  EXPECT_TRUE(missing_cpu_features("", cpu_without_bf16).empty());  // the portable build
  EXPECT_TRUE(missing_cpu_features("avx2 fma", cpu_without_bf16).empty());
  const auto missing = missing_cpu_features(built_for, cpu_without_bf16);
  ASSERT_EQ(missing, std::vector<std::string>{"avx512bf16"});
  const std::string text = foreign_cpu_message("mnist_train", built_for, missing, "Old CPU");
  EXPECT_EQ(text.rfind("mnist_train: error: ", 0), 0u) << text;
  EXPECT_NE(text.find("this CPU (Old CPU) lacks avx512bf16"), std::string::npos) << text;
  EXPECT_NE(text.find("-DDTRAIN_NATIVE=OFF"), std::string::npos) << text;
}

}  // namespace
}  // namespace dtrain
