// mpirun -np N read_coverage: proves that N ranks, each reading its own share of a data set
// straight from the files, together read every example exactly once per epoch, and read it
// correctly (the pixels and label of every id match the IDX source).
//
// Every rank runs the trainer's BatchStream for its worker index and sends (epoch, id, pixel
// sum, label) for every row it read to rank 0, which checks the whole.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "dtrain/data/memory_source.h"
#include "dtrain/util/args.h"

using namespace dtrain;

int main(int argc, char** argv) {
  comm::MpiEnv mpi(&argc, &argv);
  const std::string data = arg_value(argc, argv, "--data", "");
  const std::string idx_dir = arg_value(argc, argv, "--idx-dir", "");
  const std::string idx_prefix = arg_value(argc, argv, "--idx-prefix", "t10k");
  const std::string policy = arg_value(argc, argv, "--policy", "global");
  const int64_t batch = std::stoll(arg_value(argc, argv, "--batch", "64"));
  const int epochs = std::stoi(arg_value(argc, argv, "--epochs", "2"));
  try {
    data::DatasetOptions d;
    d.paths = data;
    auto source = data::open_dataset(d);
    data::ShardConfig cfg;
    cfg.policy = data::parse_shard_policy(policy);
    cfg.workers = mpi.size();
    cfg.global_batch = batch;
    cfg.seed = 11;
    cfg.shuffle_buffer = 500;
    data::ShardPlan plan(source->unit_sizes(), cfg);
    data::BatchStream::Options so;
    so.worker = mpi.rank();
    so.epochs = epochs;
    data::BatchStream stream(source, plan, so);
    // Rows: epoch, id, pixel sum (0..255 scale), label.
    std::vector<int64_t> rows;
    int64_t steps = 0;
    const int64_t px = source->image_shape().size();
    while (auto b = stream.next()) {
      ++steps;
      for (int64_t r = 0; r < b->real_rows; ++r) {
        int64_t sum = 0;
        for (int64_t k = 0; k < px; ++k)
          sum += std::lround(b->images[static_cast<std::size_t>(r * px + k)] * 255.f);
        rows.insert(rows.end(), {b->epoch, b->ids[static_cast<std::size_t>(r)], sum,
                                 b->labels[static_cast<std::size_t>(r)]});
      }
    }
    std::printf("rank %d (%s): %lld steps, %zu examples read from %s\n", mpi.rank(),
                mpi.host().c_str(), static_cast<long long>(steps), rows.size() / 4,
                source->describe().c_str());
    std::fflush(stdout);

    int count = static_cast<int>(rows.size());
    std::vector<int> counts(static_cast<std::size_t>(mpi.size())),
        displs(static_cast<std::size_t>(mpi.size()));
    MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < mpi.size(); ++r) {
      displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += counts[static_cast<std::size_t>(r)];
    }
    std::vector<int64_t> all(static_cast<std::size_t>(mpi.rank() == 0 ? total : 0));
    MPI_Gatherv(rows.data(), count, MPI_INT64_T, all.data(), counts.data(), displs.data(),
                MPI_INT64_T, 0, MPI_COMM_WORLD);
    int failures = 0;
    if (mpi.rank() == 0) {
      auto idx = data::MemorySource::from_idx_dir(idx_dir, idx_prefix);
      const int64_t n = idx->size();
      if (source->size() != n) {
        std::printf("FAIL: the data set holds %lld examples, the IDX source %lld\n",
                    static_cast<long long>(source->size()), static_cast<long long>(n));
        ++failures;
      }
      std::vector<std::vector<int>> seen(static_cast<std::size_t>(epochs),
                                         std::vector<int>(static_cast<std::size_t>(n), 0));
      for (std::size_t i = 0; i + 3 < all.size(); i += 4) {
        const int64_t epoch = all[i], id = all[i + 1], sum = all[i + 2], label = all[i + 3];
        if (id < 0 || id >= n || epoch < 0 || epoch >= epochs) {
          ++failures;
          continue;
        }
        ++seen[static_cast<std::size_t>(epoch)][static_cast<std::size_t>(id)];
        int64_t want = 0;
        for (int64_t k = 0; k < px; ++k)
          want += idx->pixels()[static_cast<std::size_t>(id * px + k)];
        if (sum != want || label != idx->labels()[static_cast<std::size_t>(id)]) {
          if (failures < 5)
            std::printf("FAIL: example %lld read wrongly\n", static_cast<long long>(id));
          ++failures;
        }
      }
      for (int e = 0; e < epochs; ++e) {
        int64_t missing = 0, repeated = 0;
        for (int c : seen[static_cast<std::size_t>(e)]) {
          missing += c == 0;
          repeated += c > 1;
        }
        std::printf("epoch %d: %lld examples, %lld missing, %lld read more than once\n", e,
                    static_cast<long long>(n), static_cast<long long>(missing),
                    static_cast<long long>(repeated));
        failures += static_cast<int>(missing + repeated);
      }
      std::printf("%s: %d ranks, policy %s, %zu files\n", failures ? "FAIL" : "OK", mpi.size(),
                  policy.c_str(), source->unit_sizes().size());
    }
    MPI_Bcast(&failures, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] error: %s\n", mpi.rank(), e.what());
    comm::abort_job(2);
  }
}
