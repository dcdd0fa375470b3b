// data_bench: how fast the readers deliver batches. Each MPI rank streams its share of a data
// set through the trainer's BatchStream (background reader, same plan) for a number of epochs,
// with a consumer that does nothing, and rank 0 prints examples/s and MB/s (file bytes) as JSON.
//   mpirun -np 2 data_bench --data DIR [--policy files|global] [--batch 100] [--epochs 2]
//                           [--io-hints KEY=VALUE,...]
#include <mpi.h>
#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "data/memory_source.h"
#include "dtrain/comm/mpi_env.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "dtrain/util/error.h"
#include "util/bench_options.h"
#include "util/clock.h"

using namespace dtrain;

int main(int argc, char** argv) {
  BenchOptions o("data_bench",
                 "mpirun -np N data_bench [--data PATHS] [--policy files|global] [--batch B] ...\n"
                 "How fast the readers deliver batches: each rank streams its share of a data set "
                 "through the trainer's reader and rank 0 prints examples/s and MB/s as JSON.");
  o.add("--data", "", "data files (HDF5 or TFRecord, as mnist_train --data); none: the IDX files")
      .add("--data-dir", "data/mnist", "directory of the MNIST IDX files (without --data)")
      .add("--features", "", "the feature layout of TFRecord files (mnist_train --features)")
      .add("--io-hints", "", "MPI-IO hints for HDF5: KEY=VALUE[,KEY=VALUE...]")
      .add("--policy", "files", "files or global (mnist_train --shard-by)")
      .add("--batch", "100", "examples per rank and batch")
      .add("--epochs", "2", "epochs to read");
  if (const auto rc = o.parse(argc, argv)) return *rc;
  comm::MpiEnv mpi(&argc, &argv);
  auto arg = [&](const std::string& name) { return o.text(name); };
  try {
    const std::string paths = arg("--data");
    std::shared_ptr<data::ExampleSource> source;
    double bytes_on_disk = 0;
    const double t_open = now_seconds();
    if (paths.empty()) {
      source = data::MemorySource::from_idx_dir(arg("--data-dir"), "train");
      bytes_on_disk = static_cast<double>(source->size()) * (785.0);
    } else {
      data::DatasetOptions d;
      d.paths = paths;
      d.features = arg("--features");
      // MPI-IO hints for HDF5, as mnist_train's --io-hint takes them: KEY=VALUE[,KEY=VALUE...]
      std::stringstream hints(arg("--io-hints"));
      for (std::string h; std::getline(hints, h, ',');) d.io_hints.push_back(h);
      source = data::open_dataset(d);
      for (const auto& f : data::expand_paths(paths)) {
        struct stat st {};
        if (stat(f.c_str(), &st) == 0) bytes_on_disk += static_cast<double>(st.st_size);
      }
    }
    const double open_seconds = now_seconds() - t_open;
    data::ShardConfig cfg;
    if (arg("--policy") != "files" && arg("--policy") != "global")
      throw OptionError("--policy " + arg("--policy") + ": expected files or global");
    cfg.policy =
        arg("--policy") == "global" ? data::ShardPolicy::kGlobal : data::ShardPolicy::kFiles;
    cfg.workers = mpi.size();
    cfg.global_batch = o.integer("--batch") * mpi.size();
    data::ShardPlan plan(source->unit_sizes(), cfg);
    data::BatchStream::Options so;
    so.worker = mpi.rank();
    so.epochs = o.integer("--epochs");
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = now_seconds();
    int64_t examples = 0;
    {
      data::BatchStream stream(source, plan, so);
      while (auto b = stream.next()) examples += b->real_rows;
    }
    const double seconds = now_seconds() - t0;
    double local[2] = {static_cast<double>(examples), seconds}, sum[2], max[2];
    MPI_Reduce(local, sum, 2, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(local, max, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (mpi.rank() == 0) {
      const double per_example = bytes_on_disk / static_cast<double>(source->size());
      nlohmann::json j{{"data", paths.empty() ? "idx" : paths},
                       {"ranks", mpi.size()},
                       {"policy", data::to_string(cfg.policy)},
                       {"examples", sum[0]},
                       {"seconds", max[1]},
                       {"open_seconds", open_seconds},
                       {"examples_per_sec", sum[0] / max[1]},
                       {"file_mb_per_sec", sum[0] * per_example / max[1] / 1e6},
                       {"bytes_per_example_on_disk", per_example}};
      std::printf("%s\n", j.dump().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "data_bench: [rank %d] error: %s\n", mpi.rank(), e.what());
    comm::abort_job(2);  // refused: bad options or unreadable data
  }
}
