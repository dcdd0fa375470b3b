// Deterministic random numbers that do not depend on the standard library's implementation:
// the same seed gives the same stream on every platform and every rank. Counter-based helpers
// (mix64, key) let a value be derived from (seed, step, global example id) with no shared state,
// which is what makes dropout masks and data order identical for 1 rank and N ranks.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dtrain {

// SplitMix64 finaliser: a bijective 64-bit mix.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Combines several integers into one well-mixed key.
constexpr std::uint64_t key(std::uint64_t a, std::uint64_t b) {
  return mix64(a ^ mix64(b));
}
constexpr std::uint64_t key(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return key(key(a, b), c);
}

// xoshiro256** seeded through SplitMix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform in [0, 1) with 24 bits of precision (exact in float).
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
  // Uniform integer in [0, n) (Lemire's method, unbiased).
  std::uint64_t below(std::uint64_t n);

 private:
  std::uint64_t s_[4];
};

// Fisher-Yates shuffle with Rng: the permutation depends only on the seed.
template <typename T>
void shuffle(std::span<T> items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::size_t j = rng.below(i);
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace dtrain
