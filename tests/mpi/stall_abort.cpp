// mpirun -np N stall_abort --scenario S: one rank stops taking part (it sleeps, as a hung or
// descheduled rank would); the others must notice within the stall timeout, name the missing
// rank, and end the job with a non-zero exit instead of hanging. The ctest wrapper checks the
// message and the time it took.
//   allreduce: rank N-1 never joins step 3 of a synchronous gradient allreduce.
//   ssp:       the last worker stops pushing; worker 0 waits under --max-staleness 1.
//   ps:        a worker stops pushing; the parameter server waits for gradients.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "dtrain/comm/allreduce_exchange.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/parameter_server.h"
#include "dtrain/comm/parameter_shard.h"
#include "dtrain/comm/ps_client.h"
#include "dtrain/nn/model.h"
#include "dtrain/optim/sgd.h"

using namespace dtrain;

int main(int argc, char** argv) {
  comm::MpiEnv mpi(&argc, &argv);
  const std::string scenario = argc > 2 ? argv[2] : "allreduce";
  const double timeout = 3;
  const int last = mpi.size() - 1;
  const nn::Model model(nn::ModelSpec::parse("mlp"), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);
  if (scenario == "allreduce") {
    comm::Heartbeat heartbeat(MPI_COMM_WORLD);
    comm::AllreduceExchange exchange(
        MPI_COMM_WORLD, replica.grads().size(), 0.1,
        std::make_unique<optim::Sgd>(replica.params().size(), 0.f, false, 0.f),
        comm::StallPolicy(timeout, mpi.rank()), &heartbeat);
    for (int step = 0; step < 10; ++step) {
      if (mpi.rank() == last && step == 3) {
        std::printf("rank %d: stopping at step %d\n", mpi.rank(), step);
        std::fflush(stdout);
        sleep(600);
      }
      exchange.before_step(replica, step);
      exchange.gradients_ready({0, replica.grads().size()});
      exchange.after_step(replica, step, 0.1f);
    }
    return 0;
  }
  const auto roles = comm::Roles::decide(mpi.rank(), mpi.size(), "async", 1);
  comm::PsWindow window(MPI_COMM_WORLD, roles, comm::split_parameters(model.layout().total(), 1));
  comm::Watchdog watchdog(timeout + 30, mpi.rank());
  const comm::StallPolicy stall(timeout, mpi.rank());
  if (roles.is_ps()) {
    optim::OptimizerConfig sgd;
    sgd.name = "sgd";
    comm::ParameterServer server(window, replica.params().span(), sgd, stall, &watchdog);
    MPI_Barrier(MPI_COMM_WORLD);
    server.serve(optim::LrSchedule{0.01f});
    return 0;
  }
  comm::ParameterServerClient client(window, scenario == "ssp" ? 1 : -1, stall, &watchdog);
  MPI_Barrier(MPI_COMM_WORLD);
  for (int step = 0; step < 1000000; ++step) {
    if (mpi.rank() == last && step == 2) {
      std::printf("rank %d: stopping at step %d\n", mpi.rank(), step);
      std::fflush(stdout);
      sleep(600);
    }
    client.before_step(replica, step);
    client.after_step(replica, step, 0.f);
    if (scenario == "ps" && mpi.rank() != last && step == 5) break;
  }
  client.finish();
  sleep(600);  // the server must give up on the stopped worker and end the job
  return 0;
}
