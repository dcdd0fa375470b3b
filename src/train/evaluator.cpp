#include "train/evaluator.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "dtrain/util/aligned_buffer.h"
#include "util/clock.h"

namespace dtrain::train {

EvalResult evaluate(nn::Replica& replica, data::ExampleSource& source, int64_t batch,
                    const EvalShare& share) {
  const double t0 = now_seconds();
  const int64_t n = source.size();
  const int64_t begin = n * share.index / share.count, end = n * (share.index + 1) / share.count;
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
  if (share.sum) {
    double sums[3] = {static_cast<double>(r.examples), static_cast<double>(r.correct), r.loss_sum};
    share.sum(sums);
    r.examples = static_cast<int64_t>(sums[0]);
    r.correct = static_cast<int64_t>(sums[1]);
    r.loss_sum = sums[2];
  }
  r.seconds = now_seconds() - t0;
  return r;
}

}  // namespace dtrain::train
