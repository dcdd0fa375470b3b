#include "train/compute_probe.h"

#include <algorithm>
#include <vector>

#include "comm/sync/fp16.h"
#include "dtrain/nn/replica.h"
#include "dtrain/util/compute_pool.h"
#include "train/job_context.h"
#include "train/job_report.h"
#include "util/clock.h"
#include "util/mpi_call.h"

namespace dtrain::train {

namespace {

// Rank 0's training images' shape, broadcast; {0,0,0} when it could not open them.
data::ImageShape shared_input_shape(const TrainOptions& o, const comm::MpiEnv& mpi) {
  int64_t shape[3] = {0, 0, 0};
  if (mpi.rank() == 0) {
    try {
      const auto s = open_data(o, o.data.train_data, "train")->image_shape();
      shape[0] = s.c, shape[1] = s.h, shape[2] = s.w;
    } catch (const std::exception&) {
      // The start-up checks open the data again and report the error there, on every rank.
    }
  }
  mpi_call("MPI_Bcast (input shape)", MPI_Bcast, shape, 3, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return {shape[0], shape[1], shape[2]};
}

// The precision this rank will compute in; fp32 where the CPU refuses the one asked for (the
// workers' start-up checks refuse it by name; a server never computes).
nn::Precision probe_precision(const TrainOptions& o) {
  try {
    return nn::resolve_precision(o.model.precision);
  } catch (const std::exception&) {
    return nn::Precision::kFp32;
  }
}

// Seconds of the second of two calls (the first builds primitives and touches memory).
template <typename Fn>
double second_call(Fn&& fn) {
  fn();
  const double t0 = now_seconds();
  fn();
  return now_seconds() - t0;
}

}  // namespace

ComputeProbe::ComputeProbe(const TrainOptions& o, const comm::MpiEnv& mpi, int64_t rows)
    : options_(o), rows_(rows) {
  const data::ImageShape in = shared_input_shape(o, mpi);
  if (in.c == 0) return;
  use_compute_threads(compute_threads(o.dist.threads, mpi.local_size()));
  model_ = std::make_unique<nn::Model>(nn::ModelSpec::parse(o.model.arch),
                                       nn::Shape{in.c, in.h, in.w}, o.data.num_classes);
  replica_ = std::make_unique<nn::Replica>(*model_, nullptr, probe_precision(o));
  model_->init_params(replica_->params().span(), o.model.seed);
  images_.assign(static_cast<std::size_t>(rows * in.c * in.h * in.w), 0.5f);
  labels_.assign(static_cast<std::size_t>(rows), 0);
  ids_.resize(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < ids_.size(); ++i) ids_[i] = static_cast<int64_t>(i);
}

ComputeProbe::~ComputeProbe() {
  load(false);
}

void ComputeProbe::train_once() {
  const nn::BatchView batch{images_.data(), labels_.data(), ids_.data(), rows_, rows_};
  const nn::StepContext step{options_.model.seed, 0, ids_.data()};
  replica_->train_batch(batch, step, 1.f / static_cast<float>(rows_));
}

void ComputeProbe::load(bool on) {
  if (on && !load_.joinable()) {
    stop_ = false;
    load_ = std::thread([this] {
      while (!stop_.load()) train_once();
    });
  } else if (!on && load_.joinable()) {
    stop_ = true;
    load_.join();
  }
}

comm::ComputeFacts ComputeProbe::measure() {
  const std::size_t total = model_->layout().total();
  double times[3] = {};
  times[0] = second_call([&] { train_once(); });
  auto optimizer = optim::make_optimizer(optimizer_config(options_), total);
  auto& r = *replica_;
  times[1] = second_call([&] { optimizer->step(r.params().span(), r.grads().span(), 0.f, 1.f); });
  std::vector<std::uint16_t> half(total);
  times[2] = second_call([&] {
    comm::fp16::encode(r.grads().data(), total, 1.f, half.data());
    comm::fp16::decode(half.data(), total, 1.f, r.grads().data());
  });
  mpi_call("MPI_Allreduce (compute probe)", MPI_Allreduce, MPI_IN_PLACE, times, 3, MPI_DOUBLE,
           MPI_MAX, MPI_COMM_WORLD);
  comm::ComputeFacts f;
  f.step = times[0];
  f.optimizer = times[1];
  f.gradient_bytes = static_cast<double>(total * sizeof(float));
  f.fp16_per_byte = times[2] / f.gradient_bytes;
  f.batch = rows_;
  return f;
}

}  // namespace dtrain::train
