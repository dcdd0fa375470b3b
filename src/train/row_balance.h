// The split of a sync global batch by speed (--balance speed): pure, so that every rank,
// given the same figures, computes the same split without talking.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dtrain/data/shard_plan.h"

namespace dtrain::train {

// The quantum of a split of `batch` rows over `workers`: rows move in multiples of it, so that
// few distinct batch sizes (each one a network to build) occur. At least 1.
int64_t split_quantum(int64_t batch, int workers);

// The next split: rows in proportion to each worker's speed (1 / its compute time per row),
// moved half way from `current` (a single noisy window cannot swing it), in multiples of
// `quantum` (the last worker takes what does not divide), each worker at least one quantum.
// `current` when every worker is already within a quantum of its rows by speed, or a figure is
// missing (<= 0). Repeated with steady figures, it settles within about a quantum of them.
std::vector<int64_t> balanced_rows(std::span<const int64_t> current,
                                   std::span<const double> ms_per_row, int64_t quantum);

// Why recorded `splits` cannot be this run's (empty when they can): the first from step 0,
// steps not decreasing, each split `workers` counts of at least one row summing to `batch`.
std::string splits_mismatch(std::span<const data::RowSplit> splits, int workers, int64_t batch);

}  // namespace dtrain::train
