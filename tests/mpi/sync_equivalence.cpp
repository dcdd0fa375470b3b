// mpirun -np N sync_equivalence: synchronous training over N ranks with global batch B must
// give the parameters one rank gets with batch B. All N ranks train k steps together
// (allreduce); then rank 0 trains the same k steps alone; the two parameter vectors must agree
// to a relative difference (norm of the difference over norm of the parameters) <= 1e-5, and
// every rank must hold bit-identical parameters after the synchronous run.
#include <cmath>
#include <cstdio>
#include <string>

#include "dtrain/comm/allreduce_exchange.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/memory_source.h"
#include "dtrain/train/trainer.h"
#include "dtrain/util/args.h"

using namespace dtrain;

namespace {

std::vector<float> train_params(const train::TrainOptions& o,
                                std::shared_ptr<data::ExampleSource> data, MPI_Comm comm,
                                int worker, int workers) {
  const nn::Model model(nn::ModelSpec::parse(o.model), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);
  model.init_params(replica.params().span(), o.seed);
  optim::OptimizerConfig oc;
  oc.name = o.optimizer;
  auto opt = optim::make_optimizer(oc, replica.params().size());
  std::unique_ptr<comm::GradientExchange> exchange;
  std::unique_ptr<comm::Heartbeat> heartbeat;
  if (workers > 1) {
    heartbeat = std::make_unique<comm::Heartbeat>(comm);
    exchange = std::make_unique<comm::AllreduceExchange>(
        comm, replica.params().size(), o.bucket_mb, std::move(opt), comm::StallPolicy(60, worker),
        heartbeat.get());
  } else {
    exchange = std::make_unique<comm::LocalExchange>(std::move(opt));
  }
  train::TrainerSetup s;
  s.options = &o;
  s.replica = &replica;
  s.exchange = exchange.get();
  s.train_data = data;
  s.test_data = data;
  s.shard.workers = workers;
  s.shard.global_batch = o.batch_size;
  s.shard.seed = o.seed;
  s.worker = worker;
  s.chief = false;
  s.evaluate = false;
  train::Trainer trainer(s);
  trainer.run();
  return {replica.params().data(), replica.params().data() + replica.params().size()};
}

}  // namespace

int main(int argc, char** argv) {
  comm::MpiEnv mpi(&argc, &argv);
  train::TrainOptions o;
  o.batch_size = std::stoll(arg_value(argc, argv, "--batch-size", "60"));
  o.steps = std::stoll(arg_value(argc, argv, "--steps", "20"));
  o.optimizer = arg_value(argc, argv, "--optimizer", "adam");
  o.bucket_mb = std::stod(arg_value(argc, argv, "--bucket-mb", "1"));
  o.seed = 3;
  o.threads = 1;
  try {
    auto data = std::shared_ptr<data::ExampleSource>(data::MemorySource::from_idx_dir(
        arg_value(argc, argv, "--data-dir", "data/mnist"), "train"));
    const auto many = train_params(o, data, MPI_COMM_WORLD, mpi.rank(), mpi.size());
    // Every rank must hold the same parameters, bit for bit.
    double sum = 0;
    for (float x : many) sum += static_cast<double>(x) * 1.000001;
    double lo = 0, hi = 0;
    MPI_Allreduce(&sum, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&sum, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    int failures = lo != hi;
    if (mpi.rank() == 0) {
      const auto one = train_params(o, data, MPI_COMM_SELF, 0, 1);
      double diff = 0, norm = 0, max_abs = 0;
      for (std::size_t i = 0; i < one.size(); ++i) {
        const double d = static_cast<double>(many[i]) - one[i];
        diff += d * d;
        norm += static_cast<double>(one[i]) * one[i];
        max_abs = std::max(max_abs, std::abs(d));
      }
      const double rel = std::sqrt(diff / norm);
      // Per tensor, to show where differences come from.
      const nn::Model model(nn::ModelSpec::parse(o.model), nn::Shape{1, 28, 28}, 10);
      for (const auto& t : model.layout().tensors()) {
        double td = 0, tn = 0;
        for (std::size_t i = t.offset; i < t.offset + t.size; ++i) {
          const double d = static_cast<double>(many[i]) - one[i];
          td += d * d;
          tn += static_cast<double>(one[i]) * one[i];
        }
        std::printf("  %-14s relative difference %.3g\n", t.name.c_str(),
                    std::sqrt(td / std::max(tn, 1e-30)));
      }
      const bool ok = rel <= 1e-5 && lo == hi;
      std::printf(
          "%s: %d ranks vs 1 rank, global batch %lld, %lld steps, %s: relative difference %.3g "
          "(max abs %.3g); ranks identical: %s\n",
          ok ? "OK" : "FAIL", mpi.size(), static_cast<long long>(o.batch_size),
          static_cast<long long>(o.steps), o.optimizer.c_str(), rel, max_abs,
          lo == hi ? "yes" : "NO");
      failures += !ok;
    }
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] error: %s\n", mpi.rank(), e.what());
    comm::abort_job(2);
  }
}
