// Training as a whole: a fixed seed gives bit-identical runs, and a short run on the real MNIST
// data learns (>= 95% test accuracy after a few hundred steps).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "data/memory_source.h"
#include "dtrain/nn/model.h"
#include "dtrain/train/trainer.h"
#include "gradient_check.h"
#include "util/rng.h"

namespace dtrain::train {
namespace {

std::shared_ptr<data::MemorySource> synthetic(int64_t n, uint64_t seed) {
  // Class c has a bright square at a class-dependent place: learnable, but not instantly.
  std::vector<std::uint8_t> px(static_cast<std::size_t>(n * 64));
  std::vector<int32_t> labels(static_cast<std::size_t>(n));
  Rng rng(seed);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng.below(10));
    labels[static_cast<std::size_t>(i)] = c;
    for (int j = 0; j < 64; ++j)
      px[static_cast<std::size_t>(i * 64 + j)] = static_cast<std::uint8_t>(rng.below(60));
    const int r = c / 4 * 2, col = c % 4 * 2;
    for (int dy = 0; dy < 3; ++dy) {
      for (int dx = 0; dx < 3; ++dx)
        px[static_cast<std::size_t>(i * 64 + (r + dy) * 8 + col + dx)] = 250;
    }
  }
  return std::make_shared<data::MemorySource>("synthetic", data::ImageShape{1, 8, 8}, px, labels);
}

struct TrainedRun {
  std::vector<float> params;
  RunMetrics metrics{0};
};

// A short run of a small model on the synthetic task, batch 32, evaluated at its end.
TrainOptions small_run(const std::string& arch, int64_t steps) {
  TrainOptions o;
  o.model.arch = arch;
  o.training.batch_size = 32;
  o.training.steps = steps;
  o.training.eval_every = steps;
  return o;
}

nn::Model model_for(const TrainOptions& o, const data::ExampleSource& train) {
  const auto shape = train.image_shape();
  return nn::Model(nn::ModelSpec::parse(o.model.arch), nn::Shape{shape.c, shape.h, shape.w}, 10);
}

// params_memory: the parameters in the caller's memory (as a node's shared copy is).
TrainedRun train_once(const TrainOptions& o, std::shared_ptr<data::ExampleSource> train,
                      std::shared_ptr<data::ExampleSource> test, float* params_memory = nullptr) {
  const nn::Model model = model_for(o, *train);
  nn::Replica replica(model, params_memory);
  model.init_params(replica.params().span(), o.model.seed);
  comm::LocalExchange exchange(
      optim::make_optimizer({.kind = o.model.optimizer}, replica.params().size()));
  Trainer trainer({.options = &o,
                   .replica = &replica,
                   .exchange = &exchange,
                   .train_data = train,
                   .test_data = test});
  TrainedRun r;
  r.metrics = trainer.run().metrics;
  r.params.assign(replica.params().data(), replica.params().data() + replica.params().size());
  return r;
}

TEST(Training, SameSeedSameRunDifferentSeedDifferentRun) {
  auto train = synthetic(600, 1), test = synthetic(200, 2);
  TrainOptions o = small_run("conv:3:8:relu,maxpool:2,dense:32:relu,dropout:0.4,dense:10", 40);
  o.training.eval_every = 20;
  o.model.seed = 7;
  const TrainedRun a = train_once(o, train, test), b = train_once(o, train, test);
  EXPECT_EQ(a.params, b.params) << "same seed: bit-identical parameters";
  ASSERT_EQ(a.metrics.curve().size(), b.metrics.curve().size());
  for (std::size_t i = 0; i < a.metrics.curve().size(); ++i) {
    EXPECT_EQ(a.metrics.curve()[i].test_loss, b.metrics.curve()[i].test_loss);
  }
  o.model.seed = 8;
  const TrainedRun c = train_once(o, train, test);
  EXPECT_NE(a.params, c.params);
  EXPECT_GT(a.metrics.curve().back().test_accuracy, 0.5) << "the synthetic task is learnable";
}

TEST(Training, ParametersInTheCallersMemoryTrainTheSameRun) {
  auto train = synthetic(300, 1), test = synthetic(100, 2);
  const TrainOptions o = small_run("conv:3:8:relu,maxpool:2,dense:32:relu,dense:10", 10);
  const TrainedRun own = train_once(o, train, test);
  AlignedBuffer memory(model_for(o, *train).layout().total());
  const TrainedRun borrowed = train_once(o, train, test, memory.data());
  EXPECT_EQ(own.params, borrowed.params);
  // The replica trained in place and left the memory to its owner (ASan sees a double free).
  EXPECT_TRUE(std::equal(own.params.begin(), own.params.end(), memory.data()));
  EXPECT_THROW(AlignedBuffer::borrow(memory.data() + 1, 4), std::invalid_argument);
}

TEST(Training, ShortRunOnMnistReaches95Percent) {
  const std::string dir = DTRAIN_MNIST_DIR;
  ASSERT_TRUE(std::filesystem::exists(dir + "/train-images-idx3-ubyte"))
      << "MNIST not found in " << dir << ": scripts/test.sh fetches it";
  std::shared_ptr<data::ExampleSource> train = data::MemorySource::from_idx_dir(dir, "train");
  std::shared_ptr<data::ExampleSource> test = data::MemorySource::from_idx_dir(dir, "t10k");
  TrainOptions o;
  o.training.steps = 300;
  o.training.batch_size = 64;
  o.training.eval_every = 300;
  const TrainedRun r = train_once(o, train, test);
  ASSERT_FALSE(r.metrics.curve().empty());
  const auto& last = r.metrics.curve().back();
  std::printf("after %lld steps: test accuracy %.2f%%\n", static_cast<long long>(last.step),
              100 * last.test_accuracy);
  EXPECT_GE(last.test_accuracy, 0.95);
  EXPECT_EQ(last.step, 300);
}

}  // namespace
}  // namespace dtrain::train
