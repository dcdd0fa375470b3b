// BatchStream: a background reader that turns one worker's ShardPlan into ready batches.
//
// A thread reads the examples of upcoming steps from the ExampleSource and keeps up to
// `prefetch` batches ready, so in steady state the trainer never waits on storage. Batches run
// epoch after epoch from the given starting point (which is how a resumed job continues with the
// same data order), or, with Options::requested, are the chunks request()ed, in order (work taken
// from a shared counter: a chunk is what one worker reads at one step with an even share).
// Errors in the reader (a corrupt file, say) surface from next().
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dtrain/data/example_source.h"
#include "dtrain/data/shard_plan.h"
#include "dtrain/util/aligned_buffer.h"

namespace dtrain::data {

class RowSchedule;  // src/data/row_schedule.h

struct Batch {
  int64_t epoch = 0;
  int64_t step = 0;         // step within the epoch
  int64_t rows = 0;         // compiled batch size (padding included)
  int64_t real_rows = 0;    // examples actually read (0 for a padded step)
  int64_t global_rows = 0;  // real rows over all workers at this step
  AlignedBuffer images;     // rows x C x H x W
  std::vector<int32_t> labels;
  std::vector<int64_t> ids;  // global example ids; -1 for padding rows
};

class BatchStream {
 public:
  struct Options {
    int worker = 0;
    int64_t start_epoch = 0;
    int64_t start_step = 0;
    int64_t epochs = -1;  // stop after this many epochs (from start_epoch); -1 = endless
    int prefetch = 4;
    int num_classes = 10;           // labels outside [0, num_classes) are a DataError
    bool allow_unlabelled = false;  // label -1 (no label) is accepted (inference)
    // --shard-by global: this worker's rows of each global batch come from this schedule
    // (rows by speed, sync) instead of the plan's even split. Null: the plan's split.
    std::shared_ptr<const RowSchedule> rows;
    // Read only the chunks request()ed (start_*, epochs and rows are then unused).
    bool requested = false;
  };

  // A chunk: what worker `worker` reads at `step` of `epoch` with the plan's even share.
  struct Chunk {
    int64_t epoch = 0, step = 0;
    int worker = 0;
  };

  BatchStream(std::shared_ptr<ExampleSource> source, ShardPlan plan, Options options);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // The next batch, or nullptr once the requested epochs (or chunks) are done.
  std::shared_ptr<const Batch> next();
  // Options::requested: reads `chunk` after the ones requested before it.
  void request(Chunk chunk);
  // Seconds next() spent waiting for the reader.
  double wait_seconds() const { return wait_seconds_; }
  const ShardPlan& plan() const { return plan_; }

 private:
  void run();
  void read_epochs();
  void read_requests();
  // Waits until the trainer takes a batch if `prefetch` are ready, then adds `batch`: false
  // when the stream is being stopped.
  bool hand_over(std::shared_ptr<Batch> batch);
  // The ids of this worker's rows of `step` of `epoch`, from the schedule.
  std::vector<int64_t> scheduled_ids(int64_t epoch, int64_t step, int64_t global_rows,
                                     const std::vector<int64_t>& order) const;
  // rows: the compiled batch size (at least the ids; padding rows have id -1).
  std::shared_ptr<Batch> read_batch(int64_t epoch, int64_t step, int64_t rows, int64_t global_rows,
                                    const std::vector<int64_t>& ids);

  std::shared_ptr<ExampleSource> source_;
  ShardPlan plan_;
  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<const Batch>> ready_;
  std::deque<Chunk> requests_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  double wait_seconds_ = 0;
  std::thread thread_;
};

}  // namespace dtrain::data
