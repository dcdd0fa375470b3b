// LocalCostMeter: what a node-local checkpoint costs the training loop, measured as the time
// it adds to the loop's iterations until the next one.
//
// A rank's own clocks see only part of that cost: the time in the save and in waits for the
// partner. The background writing of every rank on the node, the partner copies and the
// async servers keeping their cuts compete for the node's cores and links, and slow the steps
// of every rank without any clock of this one seeing it (on the 4 emulated hosts of a 2-core
// machine the own account said 0.18 s per sync checkpoint of the full CNN where the steps
// after it took 0.43 s longer). Nor does anyone know when that work ends. So the meter takes
// the iterations of a whole interval, from the one that takes a checkpoint to the one before
// the next, against the mean of the quiet ones of the same interval: its last third, when the
// work of the checkpoint has long ended. The same interval's, not a baseline kept across
// intervals: the steps get faster for the first few hundred (the warm-up of caches and
// allocators), and a baseline kept from earlier, slower steps made the excess of a 31-step
// interval 110 ms too low, which once drove the interval from 31 steps to 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace dtrain::train {

class LocalCostMeter {
 public:
  // The quiet iterations the step time (baseline()) is the mean of: at most this many, the
  // latest (the second half of those before the first checkpoint, then the last third of
  // each interval); none before kMinBaseline of them.
  static constexpr std::size_t kBaselineSteps = 31;
  static constexpr std::size_t kMinBaseline = 5;
  // An interval is measured only with at least this many quiet iterations of its own (9
  // iterations and more).
  static constexpr std::size_t kMinQuiet = 3;
  // The cost is the median of this many latest intervals' excess: the cost of a checkpoint can
  // change during a run, and an early mismeasurement should not weigh on it to the end.
  static constexpr std::size_t kMeasuredIntervals = 8;

  // A node-local checkpoint is taken in the iteration now under way: the interval of the one
  // before is measured (true if it was long enough). Call it before that iteration's
  // iteration().
  bool taken();
  // One iteration of the loop took `seconds`. Not comparable (the first, with the network's
  // construction; an evaluation or a --model-dir checkpoint in it): counted nowhere.
  void iteration(double seconds, bool comparable);

  // The median excess per checkpoint over the latest kMeasuredIntervals intervals measured
  // (never below zero); none before the first.
  std::optional<double> seconds_per_checkpoint() const;
  // The mean quiet iteration; none before kMinBaseline of them.
  std::optional<double> baseline() const;
  int measured() const { return measured_; }

 private:
  std::deque<double> quiet_;
  std::vector<double> since_;  // the comparable iterations since the last checkpoint
  bool after_checkpoint_ = false;
  std::deque<double> excess_;  // the latest intervals' excess seconds
  int measured_ = 0;
};

// --local-checkpoint-steps auto: the interval from the cost of one checkpoint.
struct AutoLocalInterval {
  static constexpr int64_t kFirst = 20;   // the first checkpoint this many steps in
  static constexpr double kShare = 0.02;  // of the step time, the most a checkpoint may cost
  // Never closer: the cost meter needs quiet iterations in each interval, after the
  // checkpoint's background work has ended, and a few steps lost is all the level promises.
  static constexpr int64_t kMin = 10;
  // Shortened only once this many intervals are measured, by at most a third at a time.
  static constexpr int kMeasuredToShorten = 3;

  // The interval after `before`, for a checkpoint costing `cost_seconds` against steps of
  // `step_seconds`; `measured` intervals measured so far (none: the cost is this rank's own
  // account, which misses most of it and so only spaces checkpoints further apart than
  // kFirst). Lengthened at once, up to twofold; shortened slowly; kept while the new figure
  // is within half as much again of it. On 2 cores one interval's cost read from near 0 to
  // several steps, and every early shortening had put checkpoints kMin apart: most of what a
  // short run paid for the level.
  static int64_t next(int64_t before, double cost_seconds, double step_seconds, int measured);
};

}  // namespace dtrain::train
