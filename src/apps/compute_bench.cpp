// compute_bench: images/s of the model's training step (forward, loss, backward, Adam) and of
// inference, for given batch sizes and thread counts, on real MNIST images. One JSON line per
// measurement; scripts/bench_compute.sh runs it beside the PyTorch reference.
//   compute_bench --threads 2 --batches 64,100,256 [--infer-batches 64,100,256,1000]
//                 [--timeline-overhead yes|no] [--ceiling yes|no]
// First (unless --ceiling no) this machine's fp32 FMA peak and STREAM-triad bandwidth at the
// same thread count, the ceilings bench_compute.sh sets each primitive against.

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/machine_ceiling.h"
#include "data/memory_source.h"
#include "dtrain/nn/replica.h"
#include "dtrain/util/compute_pool.h"
#include "dtrain/util/error.h"
#include "optim/adam.h"
#include "util/bench_options.h"
#include "util/clock.h"
#include "util/timeline.h"
#include "util/version.h"

using namespace dtrain;

namespace {

// "64,100,256" -> {64, 100, 256}; anything else is refused with the option's name.
std::vector<int64_t> batch_list(const BenchOptions& o, const std::string& name) {
  std::vector<int64_t> v;
  std::stringstream in(o.text(name));
  for (std::string x; std::getline(in, x, ',');) {
    char* end = nullptr;
    v.push_back(std::strtoll(x.c_str(), &end, 10));
    if (x.empty() || *end != '\0' || v.back() < 1)
      throw OptionError(name + " " + o.text(name) + ": expected batch sizes like 64,100,256");
  }
  return v;
}

// Runs fn in windows of about `window_images` images until `repeats` windows are done and
// returns the median images/s.
template <typename Fn>
double median_rate(int64_t batch, int repeats, double window_images, Fn&& fn) {
  const int64_t iters =
      std::max<int64_t>(3, static_cast<int64_t>(window_images / static_cast<double>(batch)));
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_seconds();
    for (int64_t i = 0; i < iters; ++i) fn(i);
    rates.push_back(static_cast<double>(iters * batch) / (now_seconds() - t0));
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// One JSON line per measurement, flushed at once: bench_compute.sh reads them as they come.
void print_result(const char* what, int64_t batch, int threads, double img_s,
                  double flops_per_image, nn::Precision precision) {
  std::printf("%s\n", nlohmann::json{{"what", what},
                                     {"engine", "dtrain"},
                                     {"batch", batch},
                                     {"threads", threads},
                                     {"img_s", img_s},
                                     {"gflops", img_s * flops_per_image / 1e9},
                                     {"loops", own_loops()},
                                     {"precision", nn::to_string(precision)}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
}

// What --timeline costs a training step at batch 100: off (a flag test per span, timed over
// many spans and multiplied by the spans of a step), and on (the step timed both ways, with the
// spans the trainer records around it: step, data wait, exchange, counter).
void timeline_overhead(nn::Replica& replica, optim::Adam& adam, data::ExampleSource& data,
                       int repeats) {
  const int64_t batch = 100;
  std::vector<float> images(static_cast<std::size_t>(batch * 784));
  std::vector<int32_t> labels(static_cast<std::size_t>(batch));
  std::vector<int64_t> ids(static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
  data.read(ids, images.data(), labels.data());
  auto step = [&](int64_t i) {
    TimelineSpan s("step", "step", i);
    { TimelineSpan w("data wait", "data", i); }
    { TimelineSpan e("exchange: before step", "exchange", i); }
    replica.train_batch({images.data(), labels.data(), ids.data(), batch, batch}, {1, i, nullptr},
                        1.0f / static_cast<float>(batch));
    TimelineSpan e("exchange: apply gradients", "exchange", i);
    adam.step(replica.params().span(), replica.grads().span(), 1e-4f, 1.f);
    timeline::counter("images/s", timeline::now_us(), 1.0);
  };
  const double off = median_rate(batch, repeats, 6400, step);
  const int kSpans = 10000000;
  const double t0 = now_seconds();
  for (int i = 0; i < kSpans; ++i) TimelineSpan s("x", "y", i);
  const double ns_per_off_span = (now_seconds() - t0) / kSpans * 1e9;
  timeline::enable(false);
  const std::size_t before = timeline::lanes()[0].events.size();
  for (int i = 0; i < 10; ++i) step(i);
  const double spans_per_step =
      static_cast<double>(timeline::lanes()[0].events.size() - before) / 10;
  const double on = median_rate(batch, repeats, 6400, step);
  const double step_ns = 1e9 * static_cast<double>(batch) / off;
  std::printf("%s\n",
              nlohmann::json{{"what", "timeline_overhead"},
                             {"engine", "dtrain"},
                             {"batch", batch},
                             {"img_s_off", off},
                             {"img_s_on", on},
                             {"spans_per_step", spans_per_step},
                             {"ns_per_span_off", ns_per_off_span},
                             {"off_percent", 100 * spans_per_step * ns_per_off_span / step_ns},
                             {"on_percent", 100 * (off / on - 1)}}
                  .dump()
                  .c_str());
  std::fflush(stdout);
  timeline::g_enabled = false;
}

// This machine's FMA peak and memory bandwidth, the ceilings the other figures are set against.
void print_ceiling(int threads) {
  const MachineCeiling c = measure_ceiling(threads);
  std::printf("%s\n", nlohmann::json{{"what", "ceiling"},
                                     {"engine", "machine"},
                                     {"isa", c.isa},
                                     {"threads", threads},
                                     {"fma_gflops", c.fma_gflops},
                                     {"triad_gbps", c.triad_gbps}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
}

// The optimizer pass alone over the model's flat buffers: Adam reads parameters, gradients and
// both moments and writes back all but the gradients, 28 bytes per parameter.
void print_optimizer_pass(optim::Adam& adam, nn::Replica& replica, int threads, int repeats) {
  auto params = replica.params().span();
  auto grads = replica.grads().span();
  std::vector<double> times;
  for (int r = 0; r < std::max(5, 4 * repeats); ++r) {
    const double t0 = now_seconds();
    adam.step(params, grads, 1e-9f, 1.f);
    times.push_back(now_seconds() - t0);
  }
  std::sort(times.begin(), times.end());
  const double s = times[times.size() / 2];
  const double bytes = 28.0 * static_cast<double>(params.size());
  std::printf("%s\n", nlohmann::json{{"what", "optimizer"},
                                     {"engine", "dtrain"},
                                     {"threads", threads},
                                     {"parameters", params.size()},
                                     {"ms", 1e3 * s},
                                     {"gbps", bytes / s / 1e9}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
}

}  // namespace

int run(const BenchOptions& o) {
  const int threads = static_cast<int>(o.integer("--threads"));
  const int repeats = static_cast<int>(o.integer("--repeats"));
  const double window = o.number("--window-images");
  if (threads < 1 || repeats < 1 || window <= 0)
    throw OptionError("--threads, --repeats and --window-images must be positive");
  const auto train_batches = batch_list(o, "--batches");
  const auto infer_batches = batch_list(o, "--infer-batches");
  use_compute_threads(threads);
  if (o.text("--ceiling") == "yes") print_ceiling(threads);
  auto data = data::MemorySource::from_idx_dir(o.text("--data-dir"), "train");
  const nn::Model model(nn::ModelSpec::parse(o.text("--model")), nn::Shape{1, 28, 28}, 10);
  const double train_flops =
      6.0 * static_cast<double>(model.forward_macs()) - 2.0 * 28 * 28 * 32 * 25;
  const double fwd_flops = 2.0 * static_cast<double>(model.forward_macs());
  const nn::Precision precision = nn::resolve_precision(o.text("--precision"));
  nn::Replica replica(model, nullptr, precision);
  model.init_params(replica.params().span(), 1);
  optim::Adam adam(replica.params().size(), 0.9f, 0.999f, 1e-8f, 0.f);

  for (int64_t batch : train_batches) {
    // A few distinct real batches, cycled, so the step sees changing data.
    const int kBatches = 8;
    std::vector<float> images(static_cast<std::size_t>(kBatches * batch * 784));
    std::vector<int32_t> labels(static_cast<std::size_t>(kBatches * batch));
    std::vector<int64_t> ids(labels.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
    data->read(ids, images.data(), labels.data());
    auto step = [&](int64_t i) {
      const auto k = static_cast<std::size_t>(i % kBatches) * static_cast<std::size_t>(batch);
      replica.train_batch(
          {images.data() + k * 784, labels.data() + k, ids.data() + k, batch, batch},
          {1, i, nullptr}, 1.0f / static_cast<float>(batch));
      adam.step(replica.params().span(), replica.grads().span(), 1e-4f, 1.f);
    };
    for (int i = 0; i < 5; ++i) step(i);
    const double rate = median_rate(batch, repeats, window, step);
    print_result("train", batch, threads, rate, train_flops, precision);
  }
  print_optimizer_pass(adam, replica, threads, repeats);
  if (o.text("--timeline-overhead") == "yes") timeline_overhead(replica, adam, *data, repeats);
  for (int64_t batch : infer_batches) {
    std::vector<float> images(static_cast<std::size_t>(batch * 784));
    std::vector<int32_t> labels(static_cast<std::size_t>(batch));
    std::vector<int64_t> ids(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
    data->read(ids, images.data(), labels.data());
    std::vector<float> probs(static_cast<std::size_t>(batch * 10));
    auto infer = [&](int64_t) {
      replica.eval_batch({images.data(), labels.data(), nullptr, batch, batch}, probs.data());
    };
    for (int i = 0; i < 3; ++i) infer(i);
    const double rate = median_rate(batch, repeats, 2 * window, infer);
    print_result("infer", batch, threads, rate, fwd_flops, precision);
  }
  return 0;
}

int main(int argc, char** argv) {
  BenchOptions o("compute_bench",
                 "compute_bench [--threads N] [--batches B,...] [--infer-batches B,...] ...\n"
                 "Images/s of the model's training step (forward, loss, backward, Adam) and of "
                 "inference on real MNIST images, one JSON line per measurement.");
  o.add("--threads", "2", "compute threads")
      .add("--batches", "64,100,256", "training batch sizes")
      .add("--infer-batches", "64,100,256,1000", "inference batch sizes")
      .add("--repeats", "3", "timed windows per figure (the median is printed)")
      .add("--window-images", "6400", "images per timed window")
      .add("--data-dir", "data/mnist", "directory of the MNIST IDX files")
      .add("--model", "cnn", "the model (mnist_train --arch)")
      .add("--ceiling", "yes", "yes: first measure this machine's FMA peak and triad bandwidth")
      .add("--timeline-overhead", "yes", "yes: measure what --timeline costs a step")
      .add("--precision", "fp32", "fp32, bf16 or auto, as mnist_train --precision");
  if (const auto rc = o.parse(argc, argv)) return *rc;
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compute_bench: error: %s\n", e.what());
    return 2;
  }
}
