// mpirun -np N rma_exact_sum --num-ps K [--max-staleness S]: every worker pushes known
// gradients concurrently through the parameter-server protocol; the servers apply them with SGD
// (lr 1, no momentum), so the final parameters must equal minus the exact sum of everything
// pushed. The values are small multiples of 1/4, so any summation order gives the exact same
// floats: a single lost or doubled push shows. Every pull along the way is also checked to be
// one whole version: within a shard, a version holds p[i] = -(A + C * pattern(i)) for one pair
// (A, C), so a read mixing two versions breaks the pattern.
#include <gtest/gtest.h>

#include <string>

#include "comm/ps/client.h"
#include "comm/ps/server.h"
#include "comm/ps/shard.h"
#include "dtrain/comm/roles.h"
#include "dtrain/util/aligned_buffer.h"
#include "mpi_test.h"

namespace dtrain {
namespace {

float pattern(std::size_t i) {
  return static_cast<float>(i % 5);
}

// Values in pulled `params` that do not fit one (A, C) pair in their shard.
int64_t torn_values(const float* params, const std::vector<nn::ParamRange>& shards) {
  int64_t torn = 0;
  for (const auto& s : shards) {
    // The first float of the shard with pattern 0, and the next (pattern 1), give A and C.
    const std::size_t i0 = (s.begin + 4) / 5 * 5;
    const float a = -params[i0], c = -params[i0 + 1] - a;
    for (std::size_t i = s.begin; i < s.end; i += 997) {
      if (params[i] != -(a + c * pattern(i))) ++torn;
    }
  }
  return torn;
}

TEST(RmaExactSum, EveryPushIsAppliedExactlyOnce) {
  const int num_ps = std::stoi(testing::arg("--num-ps", "1"));
  const std::size_t total = std::stoul(testing::arg("--floats", "3274634"));
  const int rounds = std::stoi(testing::arg("--rounds", "40"));
  const int64_t staleness = std::stoll(testing::arg("--max-staleness", "-1"));
  const auto roles =
      comm::Roles::decide(testing::rank(), testing::size(), comm::Mode::kAsync, num_ps);
  comm::PsWindow window(MPI_COMM_WORLD, roles, comm::split_parameters(total, num_ps));
  comm::StallPolicy stall({120}, roles.rank);
  comm::Watchdog watchdog({120}, roles.rank);
  if (roles.is_ps()) {
    const auto shard = window.shards()[static_cast<std::size_t>(roles.ps_index(roles.rank))];
    std::vector<float> zeros(shard.size(), 0.f);
    comm::ParameterServer server(
        window, zeros, {.kind = optim::OptimizerKind::kSgd, .momentum = 0.f}, {}, stall, &watchdog);
    MPI_Barrier(MPI_COMM_WORLD);
    const auto stats = server.serve(optim::LrSchedule{1.0f});
    EXPECT_EQ(stats.pushes_applied, static_cast<int64_t>(roles.num_workers()) * rounds)
        << "server " << roles.rank;
    return;
  }
  comm::ParameterServerClient client(window, staleness, rounds, stall, &watchdog);
  MPI_Barrier(MPI_COMM_WORLD);
  client.start_at(0);
  AlignedBuffer grads(total), params(total);
  const int w = roles.worker_index();
  int64_t torn = 0;
  for (int r = 0; r < rounds; ++r) {
    client.pull(params.data());
    torn += torn_values(params.data(), window.shards());
    const float a = 0.25f * static_cast<float>((w + 1) * (r + 1));
    for (std::size_t i = 0; i < total; ++i) grads[i] = a + 0.25f * pattern(i);
    client.push(grads.data());
  }
  client.finish();
  EXPECT_EQ(torn, 0) << "worker " << w << " pulled torn versions";
  if (!roles.is_chief()) return;
  client.pull_final(params.data());
  double a_total = 0;
  for (int ww = 0; ww < roles.num_workers(); ++ww)
    for (int r = 0; r < rounds; ++r) a_total += 0.25 * (ww + 1) * (r + 1);
  const double c_total = 0.25 * roles.num_workers() * rounds;
  int64_t wrong = 0;
  for (std::size_t i = 0; i < total; ++i) {
    const double want = -(a_total + c_total * pattern(i));
    if (static_cast<double>(params[i]) != want) {
      if (wrong < 3)
        ADD_FAILURE() << "parameter " << i << " is " << params[i] << ", expected " << want;
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0) << roles.num_workers() << " workers x " << rounds << " pushes over " << num_ps
                      << " server(s)";
}

}  // namespace
}  // namespace dtrain
