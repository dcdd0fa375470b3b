// Finite-difference gradient checks (the Caffe habit): compare analytic gradients with
// central differences of the loss, coordinate by coordinate.
//
// Float32 arithmetic and the kinks of ReLU and max-pool make a few coordinates unreliable: when
// a perturbation crosses a kink, the left and right one-sided differences disagree. Such
// coordinates are skipped and counted; a check fails if too many are skipped or if any smooth
// coordinate disagrees.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "util/rng.h"

namespace dtrain::testing {

struct GradCheckResult {
  int checked = 0;
  int skipped = 0;
  int failed = 0;
  double worst = 0;  // largest relative error on a smooth coordinate
};

// loss(): evaluates the loss at the current values of `x`. analytic[i] is d loss / d x[i].
inline GradCheckResult check_gradient(std::vector<float*> coords,
                                      const std::vector<float>& analytic,
                                      const std::function<double()>& loss, float h = 1e-2f,
                                      double tolerance = 2e-2) {
  GradCheckResult r;
  // Float32 rounding of a large loss sets a noise floor on tiny derivatives; errors are taken
  // relative to at least 5% of the largest analytic derivative.
  double floor = 1e-2;
  for (float a : analytic) floor = std::max(floor, 0.05 * std::abs(a));
  for (std::size_t i = 0; i < coords.size(); ++i) {
    float* x = coords[i];
    const float saved = *x;
    const double l0 = loss();
    *x = saved + h;
    const double lp = loss();
    *x = saved - h;
    const double lm = loss();
    *x = saved;
    const double right = (lp - l0) / h, left = (l0 - lm) / h, central = (lp - lm) / (2 * h);
    const double scale = std::max({std::abs(right), std::abs(left), 1e-2});
    if (std::abs(right - left) > 0.02 * scale + 2e-3) {
      ++r.skipped;  // a kink (ReLU, max-pool switch) lies within +-h
      continue;
    }
    ++r.checked;
    const double a = analytic[i];
    const double err = std::abs(a - central) / std::max({std::abs(a), std::abs(central), floor});
    r.worst = std::max(r.worst, err);
    if (err > tolerance) {
      ++r.failed;
      ADD_FAILURE() << "coordinate " << i << ": analytic " << a << " numeric " << central
                    << " (relative error " << err << ")";
    }
  }
  return r;
}

inline void expect_good(const GradCheckResult& r, const char* what) {
  EXPECT_EQ(r.failed, 0) << what;
  EXPECT_GT(r.checked, 0) << what;
  EXPECT_LE(r.skipped, (r.checked + r.skipped) / 10) << what << ": too many kinks skipped";
}

inline std::vector<float> random_vector(std::size_t n, std::uint64_t seed, float lo = -1.f,
                                        float hi = 1.f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
  return v;
}

}  // namespace dtrain::testing
