// mpirun -np N read_coverage: proves that N ranks, each reading its own share of a data set
// straight from the files, together read every example exactly once per epoch, and read it
// correctly (the pixels and label of every id match the IDX source).
//
// Every rank runs the trainer's BatchStream for its worker index and sends (epoch, id, pixel
// sum, label) for every row it read to rank 0, which checks the whole.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <string>
#include <vector>

#include "data/memory_source.h"
#include "dtrain/data/batch_stream.h"
#include "dtrain/data/dataset.h"
#include "mpi_test.h"

namespace dtrain {
namespace {

// Rows (epoch, id, pixel sum on the 0..255 scale, label) of everything this rank read.
std::vector<int64_t> read_my_share(std::shared_ptr<data::ExampleSource> source,
                                   data::ShardPolicy policy, int64_t batch, int epochs) {
  data::ShardConfig cfg;
  cfg.policy = policy;
  cfg.workers = testing::size();
  cfg.global_batch = batch;
  cfg.seed = 11;
  cfg.shuffle_buffer = 500;
  data::BatchStream::Options so;
  so.worker = testing::rank();
  so.epochs = epochs;
  data::BatchStream stream(source, data::ShardPlan(source->unit_sizes(), cfg), so);
  std::vector<int64_t> rows;
  const int64_t px = source->image_shape().size();
  while (auto b = stream.next()) {
    for (int64_t r = 0; r < b->real_rows; ++r) {
      int64_t sum = 0;
      for (int64_t k = 0; k < px; ++k)
        sum += std::lround(b->images[static_cast<std::size_t>(r * px + k)] * 255.f);
      rows.insert(rows.end(), {b->epoch, b->ids[static_cast<std::size_t>(r)], sum,
                               b->labels[static_cast<std::size_t>(r)]});
    }
  }
  return rows;
}

std::vector<int64_t> gather_on_rank0(const std::vector<int64_t>& rows) {
  const int size = testing::size();
  int count = static_cast<int>(rows.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    displs[static_cast<std::size_t>(r)] = total;
    total += counts[static_cast<std::size_t>(r)];
  }
  std::vector<int64_t> all(static_cast<std::size_t>(testing::rank() == 0 ? total : 0));
  MPI_Gatherv(rows.data(), count, MPI_INT64_T, all.data(), counts.data(), displs.data(),
              MPI_INT64_T, 0, MPI_COMM_WORLD);
  return all;
}

TEST(ReadCoverage, EveryExampleExactlyOncePerEpochWithTheRightPixels) {
  const int epochs = std::stoi(testing::arg("--epochs", "2"));
  data::DatasetOptions d;
  d.paths = testing::arg("--data", "");
  auto source = data::open_dataset(d);
  const auto policy = testing::arg("--policy", "global") == "files" ? data::ShardPolicy::kFiles
                                                                    : data::ShardPolicy::kGlobal;
  const auto all = gather_on_rank0(
      read_my_share(source, policy, std::stoll(testing::arg("--batch", "64")), epochs));
  if (testing::rank() != 0) return;
  auto idx = data::MemorySource::from_idx_dir(testing::arg("--idx-dir", ""),
                                              testing::arg("--idx-prefix", "t10k"));
  const int64_t n = idx->size(), px = idx->image_shape().size();
  ASSERT_EQ(source->size(), n);
  std::vector<std::vector<int>> seen(static_cast<std::size_t>(epochs),
                                     std::vector<int>(static_cast<std::size_t>(n), 0));
  int64_t wrong = 0;
  for (std::size_t i = 0; i + 3 < all.size(); i += 4) {
    const int64_t epoch = all[i], id = all[i + 1], sum = all[i + 2], label = all[i + 3];
    ASSERT_TRUE(id >= 0 && id < n && epoch >= 0 && epoch < epochs) << "id " << id;
    ++seen[static_cast<std::size_t>(epoch)][static_cast<std::size_t>(id)];
    int64_t want = 0;
    for (int64_t k = 0; k < px; ++k) want += idx->pixels()[static_cast<std::size_t>(id * px + k)];
    wrong += sum != want || label != idx->labels()[static_cast<std::size_t>(id)];
  }
  EXPECT_EQ(wrong, 0) << "examples read with other pixels or labels than the IDX source";
  for (int e = 0; e < epochs; ++e) {
    int64_t missing = 0, repeated = 0;
    for (int c : seen[static_cast<std::size_t>(e)]) {
      missing += c == 0;
      repeated += c > 1;
    }
    EXPECT_EQ(missing, 0) << "epoch " << e;
    EXPECT_EQ(repeated, 0) << "epoch " << e;
  }
}

}  // namespace
}  // namespace dtrain
