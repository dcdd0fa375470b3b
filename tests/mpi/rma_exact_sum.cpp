// mpirun -np N rma_exact_sum --num-ps K: every worker pushes known gradients concurrently
// through the parameter-server protocol; the servers apply them with SGD (lr 1, no momentum),
// so the final parameters must equal minus the exact sum of everything pushed. The values are
// small multiples of 1/4, so any summation order gives the exact same floats: a single lost or
// doubled push shows. Every pull along the way is also checked to be one whole version (a torn
// read mixing two versions breaks the affine pattern the pushes keep).
#include <cmath>
#include <cstdio>
#include <string>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/parameter_server.h"
#include "dtrain/comm/parameter_shard.h"
#include "dtrain/comm/ps_client.h"
#include "dtrain/comm/roles.h"
#include "dtrain/util/aligned_buffer.h"
#include "dtrain/util/args.h"

using namespace dtrain;

namespace {

float pattern(int64_t i) {
  return static_cast<float>(i % 5);
}

}  // namespace

int main(int argc, char** argv) {
  comm::MpiEnv mpi(&argc, &argv);
  const int num_ps = std::stoi(arg_value(argc, argv, "--num-ps", "1"));
  const std::size_t total = std::stoul(arg_value(argc, argv, "--floats", "3274634"));
  const int rounds = std::stoi(arg_value(argc, argv, "--rounds", "40"));
  const int64_t staleness = std::stoll(arg_value(argc, argv, "--max-staleness", "-1"));
  try {
    const auto roles = comm::Roles::decide(mpi.rank(), mpi.size(), "async", num_ps);
    comm::PsWindow window(MPI_COMM_WORLD, roles, comm::split_parameters(total, num_ps));
    comm::StallPolicy stall(120, mpi.rank());
    comm::Watchdog watchdog(120, mpi.rank());
    int failures = 0;
    if (roles.is_ps()) {
      const auto shard = window.shards()[static_cast<std::size_t>(roles.rank)];
      std::vector<float> zeros(shard.size(), 0.f);
      optim::OptimizerConfig sgd;
      sgd.name = "sgd";
      sgd.momentum = 0.f;
      comm::ParameterServer server(window, zeros, sgd, stall, &watchdog);
      MPI_Barrier(MPI_COMM_WORLD);
      const auto stats = server.serve(optim::LrSchedule{1.0f});
      const int64_t expected = static_cast<int64_t>(roles.num_workers()) * rounds;
      std::printf("ps rank %d: %s\n", roles.rank, stats.dump().c_str());
      if (stats["pushes_applied"].get<int64_t>() != expected) {
        std::printf("FAIL: ps %d applied %lld pushes, expected %lld\n", roles.rank,
                    static_cast<long long>(stats["pushes_applied"].get<int64_t>()),
                    static_cast<long long>(expected));
        ++failures;
      }
    } else {
      comm::ParameterServerClient client(window, staleness, stall, &watchdog);
      MPI_Barrier(MPI_COMM_WORLD);
      AlignedBuffer grads(total), params(total);
      const int w = roles.worker_index();
      int64_t torn = 0;
      for (int r = 0; r < rounds; ++r) {
        client.pull(params.data());
        // A whole version: p[i] = p[0] + pattern(i) * (p[1] - p[0]) within each shard.
        for (const auto& s : window.shards()) {
          const float base = params[s.begin] + pattern(static_cast<int64_t>(s.begin)) * 0.f;
          const float slope = params[s.begin + 1] - params[s.begin];
          for (std::size_t i = s.begin; i < s.end; i += 997) {
            const float want = base + static_cast<float>(pattern(static_cast<int64_t>(i)) -
                                                         pattern(static_cast<int64_t>(s.begin))) *
                                          slope;
            if (params[i] != want) ++torn;
          }
        }
        const float a = 0.25f * static_cast<float>((w + 1) * (r + 1));
        for (std::size_t i = 0; i < total; ++i)
          grads[i] = a + 0.25f * pattern(static_cast<int64_t>(i));
        client.push(grads.data());
      }
      client.finish();
      if (torn) {
        std::printf("FAIL: worker %d saw %lld torn values in its pulls\n", w,
                    static_cast<long long>(torn));
        ++failures;
      }
      if (roles.is_chief()) {
        client.pull_final(params.data());
        double a_total = 0;
        for (int ww = 0; ww < roles.num_workers(); ++ww) {
          for (int r = 0; r < rounds; ++r) a_total += 0.25 * (ww + 1) * (r + 1);
        }
        const double c_total = 0.25 * roles.num_workers() * rounds;
        int64_t wrong = 0;
        for (std::size_t i = 0; i < total; ++i) {
          const double want = -(a_total + c_total * pattern(static_cast<int64_t>(i)));
          if (static_cast<double>(params[i]) != want) {
            if (wrong < 3)
              std::printf("FAIL: parameter %zu is %.9g, expected %.9g\n", i, params[i], want);
            ++wrong;
          }
        }
        std::printf(
            "%s: %d workers x %d pushes of %zu floats over %d server(s): %lld parameters wrong; "
            "%s\n",
            wrong ? "FAIL" : "OK", roles.num_workers(), rounds, total, num_ps,
            static_cast<long long>(wrong), client.all_workers_stats().dump().c_str());
        failures += wrong > 0;
      }
    }
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    return all ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] error: %s\n", mpi.rank(), e.what());
    comm::abort_job(2);
  }
}
