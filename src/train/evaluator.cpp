#include "train/evaluator.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "comm/stall.h"
#include "dtrain/util/aligned_buffer.h"
#include "util/clock.h"
#include "util/mpi_call.h"

namespace dtrain::train {

EvalResult evaluate(nn::Replica& replica, data::ExampleSource& source, int64_t batch, MPI_Comm comm,
                    const comm::StallSettings& stall) {
  const double t0 = now_seconds();
  int rank = 0, size = 1;
  if (comm != MPI_COMM_NULL) {
    mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
    mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  }
  const int64_t n = source.size();
  const int64_t begin = n * rank / size, end = n * (rank + 1) / size;
  const int64_t px = source.image_shape().size();
  AlignedBuffer images(static_cast<std::size_t>(batch * px));
  std::vector<int32_t> labels(static_cast<std::size_t>(batch));
  std::vector<int64_t> ids;
  EvalResult r;
  for (int64_t b = begin; b < end; b += batch) {
    int64_t rows = std::min(batch, end - b);
    ids.resize(static_cast<std::size_t>(rows));
    std::iota(ids.begin(), ids.end(), b);
    const auto skipped = source.read(ids, images.data(), labels.data());
    rows = data::drop_rows(skipped, rows, px, images.data(), labels.data(), nullptr);
    const auto stats = replica.eval_batch({images.data(), labels.data(), nullptr, batch, rows});
    r.examples += rows;
    r.correct += stats.correct;
    r.loss_sum += stats.loss_sum;
  }
  if (comm != MPI_COMM_NULL) {
    double sums[3] = {static_cast<double>(r.examples), static_cast<double>(r.correct), r.loss_sum};
    MPI_Request req = MPI_REQUEST_NULL;
    mpi_call("MPI_Iallreduce (evaluation)", MPI_Iallreduce, MPI_IN_PLACE, sums, 3, MPI_DOUBLE,
             MPI_SUM, comm, &req);
    comm::StallPolicy(stall, rank).wait(req, "the evaluation's sum over the ranks", [] {
      return "a rank evaluating";
    });
    r.examples = static_cast<int64_t>(sums[0]);
    r.correct = static_cast<int64_t>(sums[1]);
    r.loss_sum = sums[2];
  }
  r.seconds = now_seconds() - t0;
  return r;
}

}  // namespace dtrain::train
