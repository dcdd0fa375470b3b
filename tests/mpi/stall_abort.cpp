// mpirun -np N stall_abort --scenario S: one rank stops taking part (it sleeps, as a hung or
// descheduled rank would); the others must notice within the stall timeout, name the missing
// rank, and end the job (MPI_Abort) instead of hanging. The test never returns on its own: the
// wrapper (tests/integration/expect_stall.sh) checks the message and the time it took.
//   allreduce: rank N-1 never joins step 3 of a synchronous gradient allreduce.
//   ssp:       the last worker stops pushing; worker 0 waits under --max-staleness 1.
//   ps:        a worker stops pushing; the parameter server waits for gradients.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "comm/heartbeat.h"
#include "comm/ps/client.h"
#include "comm/ps/server.h"
#include "comm/ps/shard.h"
#include "comm/sync/allreduce_exchange.h"
#include "dtrain/nn/model.h"
#include "mpi_test.h"

namespace dtrain {
namespace {

constexpr double kTimeout = 3;

void stop_here(int step) {
  std::printf("rank %d: stopping at step %d\n", testing::rank(), step);
  std::fflush(stdout);
  sleep(600);
}

void allreduce_scenario(nn::Replica& replica) {
  comm::Heartbeat heartbeat(MPI_COMM_WORLD);
  comm::AllreduceExchange exchange(
      MPI_COMM_WORLD, replica.grads().size(), {.kind = optim::OptimizerKind::kSgd, .momentum = 0.f},
      {.bucket_mb = 0.1}, comm::StallPolicy({kTimeout}, testing::rank()), &heartbeat);
  for (int step = 0; step < 10; ++step) {
    if (testing::rank() == testing::size() - 1 && step == 3) stop_here(step);
    exchange.before_step(replica, step);
    exchange.gradients_ready({0, replica.grads().size()});
    exchange.after_step(replica, step, 0.1f);
  }
}

void parameter_server_scenario(nn::Replica& replica, const std::string& scenario) {
  const int last = testing::size() - 1;
  const auto roles = comm::Roles::decide(testing::rank(), testing::size(), comm::Mode::kAsync, 1);
  comm::PsWindow window(MPI_COMM_WORLD, roles,
                        comm::split_parameters(replica.model().layout().total(), 1));
  comm::Watchdog watchdog({kTimeout + 30}, roles.rank);
  const comm::StallPolicy stall({kTimeout}, roles.rank);
  if (roles.is_ps()) {
    comm::ParameterServer server(window, replica.params().span(),
                                 {.kind = optim::OptimizerKind::kSgd}, {}, stall, &watchdog);
    MPI_Barrier(MPI_COMM_WORLD);
    server.serve(optim::LrSchedule{0.01f});
    return;
  }
  comm::ParameterServerClient client(window, scenario == "ssp" ? 1 : -1, 1000000, stall, &watchdog);
  MPI_Barrier(MPI_COMM_WORLD);
  client.start_at(0);
  for (int step = 0; step < 1000000; ++step) {
    if (roles.rank == last && step == 2) stop_here(step);
    client.before_step(replica, step);
    client.after_step(replica, step, 0.f);
    if (scenario == "ps" && roles.rank != last && step == 5) break;
  }
  client.finish();
  sleep(600);  // the server must give up on the stopped worker and end the job
}

TEST(StallAbort, TheJobEndsAndNamesTheMissingRank) {
  const std::string scenario = testing::arg("--scenario", "allreduce");
  const nn::Model model(nn::ModelSpec::parse("mlp"), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);
  if (scenario == "allreduce") {
    allreduce_scenario(replica);
  } else {
    parameter_server_scenario(replica, scenario);
  }
  ADD_FAILURE() << "the scenario ended without a stall abort";
}

}  // namespace
}  // namespace dtrain
