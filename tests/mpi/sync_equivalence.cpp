// mpirun -np N sync_equivalence: synchronous training over N ranks with global batch B must
// give the parameters one rank gets with batch B. All N ranks train k steps together
// (allreduce); then rank 0 trains the same k steps alone. The two parameter vectors must agree
// to a relative difference (norm of the difference over norm of the parameters) <= 1e-5, and
// after the synchronous run every rank must hold the same parameters, byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "comm/allreduce_exchange.h"
#include "comm/heartbeat.h"
#include "data/memory_source.h"
#include "dtrain/train/trainer.h"
#include "mpi_test.h"

namespace dtrain {
namespace {

std::vector<float> train_params(const train::TrainOptions& o,
                                std::shared_ptr<data::ExampleSource> data,
                                std::shared_ptr<data::ExampleSource> test, MPI_Comm comm,
                                int worker, int workers) {
  const nn::Model model(nn::ModelSpec::parse(o.model.arch), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);
  model.init_params(replica.params().span(), o.model.seed);
  auto opt = optim::make_optimizer({.kind = o.model.optimizer}, replica.params().size());
  std::unique_ptr<comm::GradientExchange> exchange;
  std::unique_ptr<comm::Heartbeat> heartbeat;
  if (workers > 1) {
    heartbeat = std::make_unique<comm::Heartbeat>(comm);
    exchange = std::make_unique<comm::AllreduceExchange>(
        comm, replica.params().size(), o.dist.bucket_mb, std::move(opt),
        comm::StallPolicy(60, worker), heartbeat.get());
  } else {
    exchange = std::make_unique<comm::LocalExchange>(std::move(opt));
  }
  train::TrainerSetup s{.options = &o,
                        .replica = &replica,
                        .exchange = exchange.get(),
                        .train_data = data,
                        .test_data = test,
                        .mode = workers > 1 ? comm::Mode::kSync : comm::Mode::kLocal,
                        .worker = worker,
                        .workers = workers,
                        .eval_comm = workers > 1 ? comm : MPI_COMM_NULL};
  train::Trainer trainer(s);
  trainer.run();
  return {replica.params().data(), replica.params().data() + replica.params().size()};
}

TEST(SyncEquivalence, NRanksGiveTheModelOfOneRank) {
  train::TrainOptions o;
  o.training.batch_size = std::stoll(testing::arg("--batch-size", "60"));
  o.training.steps = std::stoll(testing::arg("--steps", "20"));
  o.training.eval_every = 1000000;  // no evaluation inside the short runs
  o.training.log_every = 1000000;
  o.model.optimizer = train::parse_optimizer(testing::arg("--optimizer", "adam"));
  o.dist.bucket_mb = std::stod(testing::arg("--bucket-mb", "1"));
  o.model.seed = 3;
  const std::string dir = testing::arg("--data-dir", "data/mnist");
  auto data = std::shared_ptr<data::ExampleSource>(data::MemorySource::from_idx_dir(dir, "train"));
  auto test = std::shared_ptr<data::ExampleSource>(data::MemorySource::from_idx_dir(dir, "t10k"));
  const auto many = train_params(o, data, test, MPI_COMM_WORLD, testing::rank(), testing::size());
  // Every rank must hold rank 0's parameters, byte for byte.
  std::vector<float> first = many;
  MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
  EXPECT_EQ(std::memcmp(first.data(), many.data(), many.size() * sizeof(float)), 0)
      << "rank " << testing::rank() << " holds other parameters than rank 0";
  if (testing::rank() != 0) return;
  const auto one = train_params(o, data, test, MPI_COMM_SELF, 0, 1);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < one.size(); ++i) {
    const double d = static_cast<double>(many[i]) - one[i];
    diff += d * d;
    norm += static_cast<double>(one[i]) * one[i];
  }
  const double rel = std::sqrt(diff / norm);
  std::printf("%d ranks vs 1 rank, global batch %lld, %lld steps, %s: relative difference %.3g\n",
              testing::size(), static_cast<long long>(o.training.batch_size),
              static_cast<long long>(o.training.steps), optim::to_string(o.model.optimizer).c_str(),
              rel);
  EXPECT_LE(rel, 1e-5);
}

}  // namespace
}  // namespace dtrain
