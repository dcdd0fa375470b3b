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

std::optional<comm::ComputeFacts> measure_compute(const TrainOptions& o, const comm::MpiEnv& mpi,
                                                  int64_t rows) {
  const data::ImageShape in = shared_input_shape(o, mpi);
  if (in.c == 0) return std::nullopt;
  use_compute_threads(compute_threads(o.dist.threads, mpi.local_size()));
  const nn::Model model(nn::ModelSpec::parse(o.model.arch), nn::Shape{in.c, in.h, in.w},
                        o.data.num_classes);
  const std::size_t total = model.layout().total();
  nn::Replica replica(model, nullptr, probe_precision(o));
  model.init_params(replica.params().span(), o.model.seed);
  std::vector<float> images(static_cast<std::size_t>(rows * in.c * in.h * in.w), 0.5f);
  std::vector<int32_t> labels(static_cast<std::size_t>(rows), 0);
  std::vector<int64_t> ids(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
  const nn::BatchView batch{images.data(), labels.data(), ids.data(), rows, rows};
  const nn::StepContext step{o.model.seed, 0, ids.data()};
  double times[3] = {};
  times[0] = second_call([&] { replica.train_batch(batch, step, 1.f / static_cast<float>(rows)); });
  auto optimizer = optim::make_optimizer(optimizer_config(o), total);
  times[1] = second_call(
      [&] { optimizer->step(replica.params().span(), replica.grads().span(), 0.f, 1.f); });
  std::vector<std::uint16_t> half(total);
  times[2] = second_call([&] {
    comm::fp16::encode(replica.grads().data(), total, 1.f, half.data());
    comm::fp16::decode(half.data(), total, 1.f, replica.grads().data());
  });
  mpi_call("MPI_Allreduce (compute probe)", MPI_Allreduce, MPI_IN_PLACE, times, 3, MPI_DOUBLE,
           MPI_MAX, MPI_COMM_WORLD);
  comm::ComputeFacts f;
  f.step = times[0];
  f.optimizer = times[1];
  f.gradient_bytes = static_cast<double>(total * sizeof(float));
  f.fp16_per_byte = times[2] / f.gradient_bytes;
  f.batch = rows;
  return f;
}

}  // namespace dtrain::train
