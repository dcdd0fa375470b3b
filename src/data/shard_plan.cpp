#include "dtrain/data/shard_plan.h"

#include <algorithm>
#include <numeric>

#include "dtrain/util/error.h"
#include "util/rng.h"

namespace dtrain::data {

namespace {
constexpr std::uint64_t kOrderSalt = 0x0DE5;
constexpr std::uint64_t kUnitSalt = 0x0717;
constexpr std::uint64_t kBufferSalt = 0xB0FF;

// Worker w's share of n rows split over `workers`: the first n % workers get one more.
int64_t share(int64_t n, int workers, int w) {
  return n / workers + (w < n % workers ? 1 : 0);
}
int64_t share_offset(int64_t n, int workers, int w) {
  return w * (n / workers) + std::min<int64_t>(w, n % workers);
}

std::vector<int64_t> iota_ids(int64_t begin, int64_t end) {
  std::vector<int64_t> v(static_cast<std::size_t>(end - begin));
  std::iota(v.begin(), v.end(), begin);
  return v;
}
}  // namespace

std::string to_string(ShardPolicy p) {
  return p == ShardPolicy::kGlobal ? "global" : "files";
}

ShardPlan::ShardPlan(std::vector<int64_t> unit_sizes, ShardConfig config)
    : index_(std::move(unit_sizes)), config_(config) {
  if (config_.workers < 1) throw Error("ShardPlan: need at least one worker");
  if (config_.global_batch < config_.workers) {
    throw OptionError("--batch-size " + std::to_string(config_.global_batch) +
                      " is smaller than the number of workers (" + std::to_string(config_.workers) +
                      "): every worker needs a row");
  }
  if (index_.total() == 0) throw DataError("the data set is empty");
  if (config_.shuffle_buffer < 1) throw OptionError("--shuffle-buffer must be >= 1");
}

int64_t ShardPlan::worker_batch(int worker) const {
  return share(config_.global_batch, config_.workers, worker);
}

std::vector<std::vector<int64_t>> ShardPlan::deal_units(int64_t epoch) const {
  const int n = config_.workers;
  // Units: files, or N contiguous record ranges when there are fewer files than workers.
  std::vector<std::pair<int64_t, int64_t>> units;
  if (index_.units() >= n) {
    for (int64_t u = 0; u < index_.units(); ++u)
      units.emplace_back(index_.start(u), index_.start(u + 1));
  } else {
    for (int w = 0; w < n; ++w) {
      const int64_t b = share_offset(index_.total(), n, w);
      units.emplace_back(b, b + share(index_.total(), n, w));
    }
  }
  if (config_.shuffle) {
    Rng rng(key(config_.seed, kUnitSalt, static_cast<std::uint64_t>(epoch)));
    shuffle(std::span(units), rng);
  }
  // Greedy: each unit goes to the worker holding the fewest examples so far.
  std::vector<std::vector<int64_t>> ids(static_cast<std::size_t>(n));
  for (const auto& [b, e] : units) {
    auto least = std::min_element(ids.begin(), ids.end(),
                                  [](const auto& x, const auto& y) { return x.size() < y.size(); });
    const auto more = iota_ids(b, e);
    least->insert(least->end(), more.begin(), more.end());
  }
  return ids;
}

std::vector<int64_t> ShardPlan::worker_counts(int64_t epoch) const {
  std::vector<int64_t> counts;
  for (const auto& ids : deal_units(epoch)) counts.push_back(static_cast<int64_t>(ids.size()));
  return counts;
}

int64_t ShardPlan::steps_in_epoch(int64_t epoch) const {
  const int64_t total = index_.total();
  if (config_.policy == ShardPolicy::kGlobal) {
    return (total + config_.global_batch - 1) / config_.global_batch;
  }
  int64_t steps = 0;
  const auto counts = worker_counts(epoch);
  for (int w = 0; w < config_.workers; ++w) {
    const int64_t b = worker_batch(w);
    steps = std::max(steps, (counts[static_cast<std::size_t>(w)] + b - 1) / b);
  }
  return steps;
}

std::vector<int64_t> ShardPlan::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order = iota_ids(0, index_.total());
  if (config_.shuffle) {
    Rng rng(key(config_.seed, kOrderSalt, static_cast<std::uint64_t>(epoch)));
    shuffle(std::span(order), rng);
  }
  return order;
}

std::vector<std::vector<int64_t>> ShardPlan::worker_steps(int64_t epoch, int worker) const {
  const int64_t total = index_.total();
  const int64_t steps = steps_in_epoch(epoch);
  std::vector<std::vector<int64_t>> out(static_cast<std::size_t>(steps));
  if (config_.policy == ShardPolicy::kGlobal) {
    const std::vector<int64_t> order = epoch_order(epoch);
    const int64_t B = config_.global_batch;
    for (int64_t s = 0; s < steps; ++s) {
      const int64_t begin = s * B, rows = std::min(B, total - begin);
      const int64_t off = begin + share_offset(rows, config_.workers, worker);
      const int64_t n = share(rows, config_.workers, worker);
      out[static_cast<std::size_t>(s)].assign(order.begin() + off, order.begin() + off + n);
    }
    return out;
  }
  // kFiles: stream this worker's ids through a shuffle buffer of K slots: fill it, then emit a
  // random slot and refill that slot from the stream; at the end drain it in random order.
  const auto dealt = deal_units(epoch);
  const auto& stream = dealt[static_cast<std::size_t>(worker)];
  std::vector<int64_t> emitted;
  emitted.reserve(stream.size());
  if (!config_.shuffle) {
    emitted = stream;
  } else {
    Rng rng(key(config_.seed, kBufferSalt,
                key(static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(worker))));
    const auto k = static_cast<std::size_t>(config_.shuffle_buffer);
    std::vector<int64_t> buffer;
    buffer.reserve(std::min(k, stream.size()));
    for (int64_t id : stream) {
      if (buffer.size() < k) {
        buffer.push_back(id);
        continue;
      }
      const std::size_t j = rng.below(buffer.size());
      emitted.push_back(buffer[j]);
      buffer[j] = id;
    }
    shuffle(std::span(buffer), rng);
    emitted.insert(emitted.end(), buffer.begin(), buffer.end());
  }
  const int64_t b = worker_batch(worker);
  for (int64_t s = 0; s < steps; ++s) {
    const auto begin = std::min<std::size_t>(emitted.size(), static_cast<std::size_t>(s * b));
    const auto end = std::min<std::size_t>(emitted.size(), begin + static_cast<std::size_t>(b));
    out[static_cast<std::size_t>(s)].assign(emitted.begin() + static_cast<std::ptrdiff_t>(begin),
                                            emitted.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return out;
}

std::vector<int64_t> ShardPlan::global_rows(int64_t epoch) const {
  const int64_t steps = steps_in_epoch(epoch);
  std::vector<int64_t> rows(static_cast<std::size_t>(steps), 0);
  if (config_.policy == ShardPolicy::kGlobal) {
    for (int64_t s = 0; s < steps; ++s) {
      rows[static_cast<std::size_t>(s)] =
          std::min(config_.global_batch, index_.total() - s * config_.global_batch);
    }
    return rows;
  }
  const auto counts = worker_counts(epoch);
  for (int w = 0; w < config_.workers; ++w) {
    const int64_t b = worker_batch(w);
    for (int64_t s = 0; s < steps; ++s) {
      rows[static_cast<std::size_t>(s)] +=
          std::clamp<int64_t>(counts[static_cast<std::size_t>(w)] - s * b, 0, b);
    }
  }
  return rows;
}

}  // namespace dtrain::data
