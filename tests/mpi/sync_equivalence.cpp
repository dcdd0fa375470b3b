// mpirun -np N sync_equivalence: synchronous training over N ranks with global batch B must
// give the parameters one rank gets with batch B. All N ranks train k steps together, with the
// sharded optimizer (reduce-scatter, slice update, allgather) and without it (allreduce, whole
// update); then rank 0 trains the same k steps alone. Each N-rank parameter vector must agree
// with the one-rank vector to a relative difference (norm of the difference over norm of the
// parameters) <= 1e-5 (5e-5 when sharded: see below), and after each synchronous run every rank
// must hold the same parameters, byte for byte. A second test checks that the sharded optimizer
// state gathered for a checkpoint is the whole state, and that restoring it gives each rank its
// slice back.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "comm/allreduce_exchange.h"
#include "comm/heartbeat.h"
#include "data/memory_source.h"
#include "dtrain/train/trainer.h"
#include "dtrain/util/error.h"
#include "mpi_test.h"

namespace dtrain {
namespace {

std::vector<float> train_params(const train::TrainOptions& o,
                                std::shared_ptr<data::ExampleSource> data,
                                std::shared_ptr<data::ExampleSource> test, MPI_Comm comm,
                                int worker, int workers, bool shard = true) {
  const nn::Model model(nn::ModelSpec::parse(o.model.arch), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);
  model.init_params(replica.params().span(), o.model.seed);
  const optim::OptimizerConfig opt{.kind = o.model.optimizer};
  std::unique_ptr<comm::GradientExchange> exchange;
  std::unique_ptr<comm::Heartbeat> heartbeat;
  if (workers > 1) {
    heartbeat = std::make_unique<comm::Heartbeat>(comm);
    exchange = std::make_unique<comm::AllreduceExchange>(
        comm, replica.params().size(), opt,
        comm::AllreduceExchange::Options{o.dist.bucket_mb, shard}, comm::StallPolicy(60, worker),
        heartbeat.get());
  } else {
    exchange =
        std::make_unique<comm::LocalExchange>(optim::make_optimizer(opt, replica.params().size()));
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
  std::vector<std::vector<float>> runs;
  for (const bool shard : {true, false}) {
    runs.push_back(
        train_params(o, data, test, MPI_COMM_WORLD, testing::rank(), testing::size(), shard));
    // Every rank must hold rank 0's parameters, byte for byte.
    const std::vector<float>& many = runs.back();
    std::vector<float> first = many;
    MPI_Bcast(first.data(), static_cast<int>(first.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
    EXPECT_EQ(std::memcmp(first.data(), many.data(), many.size() * sizeof(float)), 0)
        << "rank " << testing::rank() << " holds other parameters than rank 0"
        << (shard ? " (sharded optimizer)" : " (whole optimizer)");
  }
  if (testing::rank() != 0) return;
  const auto one = train_params(o, data, test, MPI_COMM_SELF, 0, 1);
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const std::vector<float>& many = runs[r];
    double diff = 0, norm = 0;
    for (std::size_t i = 0; i < one.size(); ++i) {
      const double d = static_cast<double>(many[i]) - one[i];
      diff += d * d;
      norm += static_cast<double>(one[i]) * one[i];
    }
    const double rel = std::sqrt(diff / norm);
    std::printf(
        "%d ranks (%s optimizer) vs 1 rank, global batch %lld, %lld steps, %s: relative "
        "difference %.3g\n",
        testing::size(), r == 0 ? "sharded" : "whole",
        static_cast<long long>(o.training.batch_size), static_cast<long long>(o.training.steps),
        optim::to_string(o.model.optimizer).c_str(), rel);
    // The sharded run sums each gradient in the order of the reduce-scatter algorithm, not
    // the allreduce's. Measured on 4 ranks, 1 thread, 40 SGD steps: 1.1e-5 with Open MPI's
    // ring or recursive-halving reduce-scatter, and bit-identical to the whole run with its
    // reduce-then-scatter algorithm (coll_tuned_reduce_scatter_algorithm 1). Rounding, then;
    // a slice updated wrongly or twice shows up at 1e-3 and more.
    EXPECT_LE(rel, r == 0 ? 5e-5 : 1e-5) << (r == 0 ? "sharded" : "whole") << " optimizer";
  }
}

// Steps a sharded exchange on made-up gradients, gathers its state as a checkpoint would,
// and checks the whole state against an unsharded exchange fed the same gradients; then a
// fresh sharded exchange restored from the gathered state must gather it back unchanged.
TEST(SyncEquivalence, ShardedOptimizerStateGathersWholeAndRestores) {
  const nn::Model model(nn::ModelSpec::parse("cnn"), nn::Shape{1, 28, 28}, 10);
  const optim::OptimizerConfig adam{.kind = optim::OptimizerKind::kAdam};
  auto stepped = [&](bool shard) {
    nn::Replica replica(model);
    model.init_params(replica.params().span(), 5);
    auto ex = std::make_unique<comm::AllreduceExchange>(
        MPI_COMM_WORLD, replica.params().size(), adam, comm::AllreduceExchange::Options{0.5, shard},
        comm::StallPolicy(60, testing::rank()), nullptr);
    for (int step = 0; step < 3; ++step) {
      ex->before_step(replica, step);
      float* g = replica.grads().data();
      for (std::size_t i = 0; i < replica.grads().size(); ++i)
        // Multiples of 1/1024: sums over up to 4 ranks are exact in any order.
        g[i] = (static_cast<float>((i * 7 + static_cast<std::size_t>(step)) % 13) - 6.f) / 1024.f;
      ex->after_step(replica, step, 1e-3f);
    }
    return ex;
  };
  auto sharded = stepped(true);
  const optim::NamedArrays whole = sharded->optimizer_state();
  const optim::NamedArrays reference = stepped(false)->optimizer_state();
  EXPECT_EQ(sharded->optimizer_steps(), 3);
  if (testing::rank() == 0) {
    ASSERT_EQ(whole.size(), reference.size());
    for (std::size_t k = 0; k < whole.size(); ++k) {
      EXPECT_EQ(whole[k].first, reference[k].first);
      ASSERT_EQ(whole[k].second.size(), reference[k].second.size());
      EXPECT_TRUE(whole[k].second == reference[k].second) << "state " << whole[k].first;
    }
  } else {
    EXPECT_TRUE(whole.empty()) << "only rank 0 receives the gathered state";
  }
  // Restore from rank 0's arrays on every rank, as a resume does after reading the checkpoint.
  optim::NamedArrays saved = reference;
  for (auto& [name, values] : saved)
    MPI_Bcast(values.data(), static_cast<int>(values.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
  nn::Replica replica(model);
  comm::AllreduceExchange restored(MPI_COMM_WORLD, replica.params().size(), adam,
                                   {.bucket_mb = 0.5, .shard_optimizer = true},
                                   comm::StallPolicy(60, testing::rank()), nullptr);
  restored.restore_optimizer(saved, 3);
  EXPECT_EQ(restored.optimizer_steps(), 3);
  const optim::NamedArrays again = restored.optimizer_state();
  if (testing::rank() == 0) {
    EXPECT_TRUE(again == reference) << "restored state differs";
  }
  EXPECT_THROW(restored.restore_optimizer({{"m", std::vector<float>(7)}}, 3), Error);
}

}  // namespace
}  // namespace dtrain
