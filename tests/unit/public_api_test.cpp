// The public headers stand alone: this file includes every one of them and is compiled by the
// public_api target with include/ alone on its include path (no src/, no oneDNN), so a public
// header that reaches into the internals fails the build.
#include <gtest/gtest.h>

#include "dtrain/comm/gradient_exchange.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/comm/roles.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "dtrain/data/example_source.h"
#include "dtrain/data/shard_plan.h"
#include "dtrain/nn/batch.h"
#include "dtrain/nn/model.h"
#include "dtrain/nn/model_spec.h"
#include "dtrain/nn/parameter_layout.h"
#include "dtrain/nn/replica.h"
#include "dtrain/optim/lr_schedule.h"
#include "dtrain/optim/optimizer.h"
#include "dtrain/train/checkpoint.h"
#include "dtrain/train/job.h"
#include "dtrain/train/metrics.h"
#include "dtrain/train/model_file.h"
#include "dtrain/train/options.h"
#include "dtrain/train/trainer.h"
#include "dtrain/train/training_plan.h"
#include "dtrain/util/aligned_buffer.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"

namespace dtrain {
namespace {

// An embedding program's view: build a model, train it a few steps, read its parameters.
TEST(PublicApi, AModelTrainsThroughThePublicHeadersAlone) {
  const nn::Model model(nn::ModelSpec::parse("mlp"), nn::Shape{1, 4, 4}, 10);
  nn::Replica replica(model);
  model.init_params(replica.params().span(), 1);
  comm::LocalExchange exchange(optim::make_optimizer({}, replica.params().size()));
  std::vector<float> images(8 * 16, 0.5f);
  std::vector<int32_t> labels(8, 3);
  std::vector<int64_t> ids(8);
  for (int step = 0; step < 3; ++step) {
    const auto loss = replica.train_batch({images.data(), labels.data(), ids.data(), 8, 8},
                                          {1, step, nullptr}, 1.0f / 8);
    EXPECT_GT(loss.loss_sum, 0);
    exchange.after_step(replica, step, 0.01f);
  }
  EXPECT_EQ(replica.params().size(), model.layout().total());
}

}  // namespace
}  // namespace dtrain
