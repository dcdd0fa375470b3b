// fp16 encoding of gradients (--compress fp16): exact values, rounding, range, and the fast
// (F16C) path against the portable one, bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "comm/sync/fp16.h"

namespace dtrain::comm {
namespace {

TEST(Fp16, KnownValuesEncodeExactly) {
  const struct {
    float value;
    std::uint16_t half;
  } cases[] = {{0.f, 0x0000},
               {-0.f, 0x8000},
               {1.f, 0x3c00},
               {-2.f, 0xc000},
               {0.5f, 0x3800},
               {65504.f, 0x7bff},
               {6.103515625e-05f, 0x0400},                        // smallest normal
               {5.9604644775390625e-08f, 0x0001},                 // smallest subnormal
               {std::numeric_limits<float>::infinity(), 0x7bff},  // saturates
               {-1e9f, 0xfbff}};
  for (const auto& c : cases) {
    EXPECT_EQ(fp16::from_float(c.value), c.half) << c.value;
    if (std::isfinite(c.value) && std::fabs(c.value) <= 65504.f) {
      EXPECT_EQ(fp16::to_float(c.half), c.value) << std::hex << c.half;
    }
  }
  EXPECT_TRUE(std::isnan(fp16::to_float(fp16::from_float(std::nanf("")))));
}

TEST(Fp16, RoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 and the next fp16 (1 + 2^-10): even is 1.
  EXPECT_EQ(fp16::from_float(1.f + 0x1p-11f), 0x3c00);
  // 1 + 3 * 2^-11 lies halfway between 1 + 2^-10 and 1 + 2^-9: even is 1 + 2^-9.
  EXPECT_EQ(fp16::from_float(1.f + 3 * 0x1p-11f), 0x3c02);
  EXPECT_EQ(fp16::from_float(1.f + 0x1p-11f + 0x1p-20f), 0x3c01);  // above halfway
  // Subnormals: 2^-25 is halfway between 0 and 2^-24.
  EXPECT_EQ(fp16::from_float(0x1p-25f), 0x0000);
  EXPECT_EQ(fp16::from_float(3 * 0x1p-25f), 0x0002);
  EXPECT_EQ(fp16::from_float(1e-10f), 0x0000);  // underflows to zero
}

TEST(Fp16, EveryHalfDecodesAndEncodesBack) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float f = fp16::to_float(half);
    if (std::isnan(f)) continue;
    const std::uint16_t back = fp16::from_float(f);
    if (std::isinf(f)) {
      EXPECT_EQ(back, (half & 0x8000) | 0x7bff) << "infinity saturates";
    } else {
      EXPECT_EQ(back, half) << std::hex << h;
    }
  }
}

// Whatever path the CPU takes (F16C or portable), encode/decode/add must give the bits of
// the scalar reference.
TEST(Fp16, VectorPathsMatchTheReferenceBitForBit) {
  std::mt19937 rng(7);
  std::vector<float> in(1003);  // not a multiple of 8: the tail takes the scalar path
  std::uniform_real_distribution<float> exponent(-30.f, 18.f), sign(-1.f, 1.f);
  for (float& x : in) x = std::copysign(std::exp2(exponent(rng)), sign(rng));
  in[5] = 70000.f;
  in[6] = -std::numeric_limits<float>::infinity();
  const float scale = 64.f;
  std::vector<std::uint16_t> half(in.size()), other(in.size());
  fp16::encode(in.data(), in.size(), scale, half.data());
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(half[i], fp16::from_float(in[i] * scale)) << "value " << in[i] * scale;
  std::vector<float> out(in.size());
  fp16::decode(half.data(), half.size(), scale, out.data());
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(out[i], fp16::to_float(half[i]) / scale) << i;
  fp16::encode(out.data(), out.size(), 1.f, other.data());
  std::vector<std::uint16_t> sum = half;
  fp16::add(other.data(), sum.data(), sum.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(sum[i], fp16::from_float(fp16::to_float(half[i]) + fp16::to_float(other[i]))) << i;
  }
  std::printf("fp16 conversions: %s\n", fp16::uses_f16c() ? "F16C" : "portable");
}

}  // namespace
}  // namespace dtrain::comm
