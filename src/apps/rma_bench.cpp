// rma_bench: the transport's ceiling against what dtrain gets from it. On 2 ranks it times,
// for message sizes from 8 B to 16 MB, OSU-style loops of the bare MPI operations the trainer
// is built on (MPI_Accumulate + flush, MPI_Get + flush, MPI_Fetch_and_op latency,
// MPI_Allreduce), and at the model's gradient size the trainer's own paths: a parameter-server
// push and pull (the whole protocol, against a real server) and the bucketed allreduce.
// One JSON line per figure.
//   mpirun -np 2 [transport flags] rma_bench [--sizes 8,1024,...] [--model-floats 3274634]
//   mpirun -np N rma_bench --only allreduce        (the bare allreduce on any number of ranks)
//   mpirun -np N rma_bench --only exchange         (sync mode's exchange: sharded or whole,
//                                                   fp32 or fp16, at the model's size)
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "comm/ps/client.h"
#include "comm/ps/server.h"
#include "comm/ps/shard.h"
#include "comm/sync/allreduce_exchange.h"
#include "comm/transport.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/nn/model.h"
#include "dtrain/util/aligned_buffer.h"
#include "dtrain/util/error.h"
#include "util/bench_options.h"
#include "util/clock.h"

using namespace dtrain;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int iterations(std::size_t bytes) {
  return static_cast<int>(std::clamp<std::size_t>(
      std::size_t{400} * 1000 * 1000 / std::max<std::size_t>(bytes, 1) / 100, 20, 1000));
}

void emit(const std::string& op, std::size_t bytes, const std::vector<double>& times,
          const std::string& transport) {
  const double t = median(times);
  std::printf("%s\n", nlohmann::json{{"op", op},
                                     {"bytes", bytes},
                                     {"iterations", times.size()},
                                     {"seconds_median", t},
                                     {"latency_us", t * 1e6},
                                     {"gbps", t > 0 ? static_cast<double>(bytes) / t / 1e9 : 0.0},
                                     {"transport", transport}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
}

// The target keeps MPI progressing (UCX and TCP need it for one-sided operations) until the
// origin joins the barrier that ends the phase.
void serve_until_barrier() {
  MPI_Request done;
  MPI_Ibarrier(MPI_COMM_WORLD, &done);
  int flag = 0;
  while (!flag) MPI_Test(&done, &flag, MPI_STATUS_IGNORE);
}

void bare_rma(const std::vector<std::size_t>& sizes, int rank, const std::string& transport) {
  const std::size_t max_bytes = *std::max_element(sizes.begin(), sizes.end());
  MPI_Win win;
  void* base = nullptr;
  MPI_Win_allocate(rank == 0 ? static_cast<MPI_Aint>(max_bytes + 64) : 0, 1, MPI_INFO_NULL,
                   MPI_COMM_WORLD, &base, &win);
  MPI_Win_lock_all(MPI_MODE_NOCHECK, win);
  AlignedBuffer buf(max_bytes / 4 + 16);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = 0.5f;
  for (const char* op : {"accumulate", "get", "fetch_and_op"}) {
    for (std::size_t bytes : sizes) {
      if (std::string(op) == "fetch_and_op" && bytes != 8) continue;
      MPI_Barrier(MPI_COMM_WORLD);
      if (rank == 0) {
        serve_until_barrier();
        continue;
      }
      const int n = std::max<int>(1, static_cast<int>(bytes / 4));
      std::vector<double> times;
      const int iters = iterations(bytes);
      for (int i = 0; i < iters + 3; ++i) {
        const double t0 = now_seconds();
        if (std::string(op) == "accumulate") {
          MPI_Accumulate(buf.data(), n, MPI_FLOAT, 0, 0, n, MPI_FLOAT, MPI_SUM, win);
        } else if (std::string(op) == "get") {
          MPI_Get(buf.data(), n, MPI_FLOAT, 0, 0, n, MPI_FLOAT, win);
        } else {
          int64_t one = 1, old = 0;
          MPI_Fetch_and_op(&one, &old, MPI_INT64_T, 0, 0, MPI_SUM, win);
        }
        MPI_Win_flush(0, win);
        if (i >= 3) times.push_back(now_seconds() - t0);
      }
      MPI_Request done;
      MPI_Ibarrier(MPI_COMM_WORLD, &done);
      MPI_Wait(&done, MPI_STATUS_IGNORE);
      emit(op, std::string(op) == "fetch_and_op" ? 8 : static_cast<std::size_t>(n) * 4, times,
           transport);
    }
  }
  MPI_Win_unlock_all(win);
  MPI_Win_free(&win);
}

void bare_allreduce(const std::vector<std::size_t>& sizes, int rank, const std::string& transport) {
  const std::size_t max_bytes = *std::max_element(sizes.begin(), sizes.end());
  AlignedBuffer buf(max_bytes / 4 + 16);
  for (std::size_t bytes : sizes) {
    const int n = std::max<int>(1, static_cast<int>(bytes / 4));
    std::vector<double> times;
    const int iters = iterations(bytes);
    for (int i = 0; i < iters + 3; ++i) {
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = now_seconds();
      MPI_Allreduce(MPI_IN_PLACE, buf.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      double t = now_seconds() - t0, tmax = 0;
      MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      if (i >= 3) times.push_back(tmax);
    }
    if (rank == 0) emit("allreduce", static_cast<std::size_t>(n) * 4, times, transport);
  }
}

// The sync exchange of the CNN's gradient, all buckets ready at once, per step: the slowest
// rank's time without the optimizer step (which follows the reduction). *bytes: the fp32
// gradient's size.
std::vector<double> time_exchange(int rank, int iters, comm::AllreduceExchange::Options options,
                                  std::size_t* bytes) {
  const nn::Model model(nn::ModelSpec::parse("cnn"), nn::Shape{1, 28, 28}, 10);
  nn::Replica replica(model);  // a stand-in: the exchange only touches the flat buffers
  *bytes = replica.grads().size() * sizeof(float);
  comm::Heartbeat heartbeat(MPI_COMM_WORLD);
  comm::AllreduceExchange ex(MPI_COMM_WORLD, replica.params().size(),
                             {.kind = optim::OptimizerKind::kSgd, .momentum = 0.f}, options,
                             comm::StallPolicy({.timeout_seconds = 120}, rank), &heartbeat);
  std::vector<double> times;
  for (int i = 0; i < iters + 3; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = now_seconds();
    ex.before_step(replica, i);
    ex.gradients_ready({0, replica.grads().size()});
    ex.after_step(replica, i, 0.f);
    const double t = now_seconds() - t0 - ex.stats().optimizer_seconds_per_step;
    double tmax = 0;
    MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (i >= 3) times.push_back(std::max(0.0, tmax));
  }
  return times;
}

// The exchange as sync training uses it, on any number of ranks: sharded (reduce-scatter +
// allgather) or whole (allreduce), fp32 or fp16 on the wire. For comparing Open MPI's
// collective algorithms (--mca coll_tuned_*_algorithm) and components (coll han).
void exchanges(int rank, int iters, double bucket_mb, const std::string& transport) {
  for (const bool shard : {true, false}) {
    for (const auto compress : {comm::Compression::kNone, comm::Compression::kFp16}) {
      std::size_t bytes = 0;
      const auto times = time_exchange(rank, iters, {bucket_mb, shard, compress, 64.f}, &bytes);
      if (rank != 0) continue;
      const double t = median(times);
      std::printf("%s\n", nlohmann::json{{"op", "dtrain_exchange"},
                                         {"sharded", shard},
                                         {"compress", comm::to_string(compress)},
                                         {"bucket_mb", bucket_mb},
                                         {"bytes", bytes},
                                         {"seconds_median", t},
                                         {"transport", transport}}
                              .dump()
                              .c_str());
      std::fflush(stdout);
    }
  }
}

// The trainer's own paths at the model's size.
void trainer_paths(std::size_t floats, int rank, int iters, const std::string& transport) {
  const double bytes = static_cast<double>(floats) * 4;
  {
    std::size_t exchanged = 0;
    const auto times =
        time_exchange(rank, iters, {.bucket_mb = 4.0, .shard_optimizer = false}, &exchanged);
    if (rank == 0) emit("dtrain_bucketed_allreduce", exchanged, times, transport);
  }
  const auto roles = comm::Roles::decide(rank, 2, comm::Mode::kAsync, 1);
  comm::PsWindow window(MPI_COMM_WORLD, roles, comm::split_parameters(floats, 1));
  comm::Watchdog watchdog({}, rank);
  const comm::StallPolicy stall({}, rank);
  if (roles.is_ps()) {
    std::vector<float> zeros(floats, 0.f);
    comm::ParameterServer server(window, zeros, {.kind = optim::OptimizerKind::kSgd}, {}, stall,
                                 &watchdog);
    MPI_Barrier(MPI_COMM_WORLD);
    server.serve(optim::LrSchedule{0.f});
  } else {
    comm::ParameterServerClient client(window, -1, 0, stall, &watchdog);
    MPI_Barrier(MPI_COMM_WORLD);
    AlignedBuffer params(floats), grads(floats);
    // Pulls back to back, then pushes one at a time (the server idle when each starts, as the
    // bare operations are measured), so each figure is the operation alone.
    std::vector<double> push, pull;
    for (int i = 0; i < iters + 3; ++i) {
      const double t0 = now_seconds();
      client.pull(params.data());
      if (i >= 3) pull.push_back(now_seconds() - t0);
    }
    for (int i = 0; i < iters + 3; ++i) {
      const int64_t before = client.server_version(0);
      const double t0 = now_seconds();
      client.push(grads.data());
      if (i >= 3) push.push_back(now_seconds() - t0);
      while (client.server_version(0) == before) {
      }
    }
    client.finish();
    emit("dtrain_ps_push", static_cast<std::size_t>(bytes), push, transport);
    emit("dtrain_ps_pull", static_cast<std::size_t>(bytes), pull, transport);
  }
}

int run(const BenchOptions& o, const comm::MpiEnv& mpi) {
  // One thread: idle OpenMP workers spin-wait and would take the cores the transfers need.
  omp_set_num_threads(1);
  const std::string only = o.text("--only");
  if (only != "all" && only != "rma" && only != "allreduce" && only != "trainer" &&
      only != "exchange")
    throw OptionError("--only " + only + ": expected all, rma, allreduce, trainer or exchange");
  // The one-sided figures are for one origin and one target; an allreduce can span any count.
  if (mpi.size() != 2 && only != "allreduce" && only != "exchange") {
    if (mpi.rank() == 0)
      std::fprintf(stderr,
                   "rma_bench: run it on exactly 2 ranks (mpirun -np 2), or --only allreduce "
                   "or exchange\n");
    return 2;
  }
  std::vector<std::size_t> sizes;
  std::stringstream in(o.text("--sizes"));
  for (std::string s; std::getline(in, s, ',');) {
    char* end = nullptr;
    sizes.push_back(std::strtoul(s.c_str(), &end, 10));
    if (s.empty() || *end != '\0' || sizes.back() == 0)
      throw OptionError("--sizes " + o.text("--sizes") + ": expected byte counts like 8,64,512");
  }
  const auto floats = static_cast<std::size_t>(o.integer("--model-floats"));
  const int model_iters = static_cast<int>(o.integer("--model-iterations"));
  // osc components load with the first window: make one before describing the transport.
  MPI_Win probe;
  void* base = nullptr;
  MPI_Win_allocate(8, 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &probe);
  const std::string transport = comm::describe_transport().summary();
  MPI_Win_free(&probe);
  if (only == "all" || only == "rma") bare_rma(sizes, mpi.rank(), transport);
  if (only == "all" || only == "allreduce") bare_allreduce(sizes, mpi.rank(), transport);
  if (only == "all" || only == "trainer") trainer_paths(floats, mpi.rank(), model_iters, transport);
  if (only == "exchange") exchanges(mpi.rank(), model_iters, o.number("--bucket-mb"), transport);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o("rma_bench",
                 "mpirun -np 2 rma_bench [--only rma|allreduce|trainer|exchange] ...\n"
                 "One-sided RMA and allreduce bandwidth and latency on the transport Open MPI "
                 "chose, and the trainer's own exchange paths, one JSON line per figure.");
  o.add("--only", "all", "all, rma, allreduce, trainer or exchange (the last two span any ranks)")
      .add("--sizes", "8,64,512,4096,32768,262144,1048576,4194304,13098536,16777216",
           "message sizes in bytes")
      .add("--model-floats", "3274634", "parameters of the model the trainer paths move")
      .add("--model-iterations", "30", "timed iterations of the trainer paths")
      .add("--bucket-mb", "4", "gradient bucket size of --only exchange");
  if (const auto rc = o.parse(argc, argv)) return *rc;
  comm::MpiEnv mpi(&argc, &argv);
  try {
    return run(o, mpi);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rma_bench: [rank %d] error: %s\n", mpi.rank(), e.what());
    comm::abort_job(2);
  }
}
