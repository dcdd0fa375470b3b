#include "train/exchange_plan.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "comm/link_probe.h"
#include "dtrain/train/checkpoint.h"
#include "train/compute_probe.h"
#include "util/mpi_call.h"

namespace dtrain::train {

namespace {

comm::Mode run_mode(const TrainOptions& o, int ranks) {
  if (ranks < 2) return comm::Mode::kLocal;
  return o.dist.dist.value_or(comm::Mode::kAsync);
}

// What the flags say when nothing is measured: today's defaults where they say auto.
comm::ExchangeChoice flagged_choice(const TrainOptions& o, comm::Mode mode) {
  const auto& d = o.dist;
  comm::ExchangeChoice c;
  c.mode = mode;
  c.sharded = d.shard_optimizer && d.exchange != comm::ExchangeKind::kWhole &&
              d.exchange != comm::ExchangeKind::kRing;
  c.ring = d.exchange == comm::ExchangeKind::kRing;
  c.wire = d.compress;
  if (d.bucket_mb > 0) c.bucket_mb = d.bucket_mb;
  c.num_ps = d.num_ps > 0 ? d.num_ps : 1;
  return c;
}

comm::ChoiceLimits limits_of(const TrainOptions& o) {
  const auto& d = o.dist;
  comm::ChoiceLimits l;
  l.exchange = d.exchange;
  l.sharded_allowed = d.shard_optimizer;
  if (d.shared_params) l.exchange = comm::ExchangeKind::kSharded;
  l.fp16_allowed = d.compress_auto;
  l.wire = d.compress;
  l.bucket_mb = d.bucket_mb;
  l.num_ps = d.num_ps;
  return l;
}

// Something left to choose across nodes.
bool has_choice(const TrainOptions& o, comm::Mode mode) {
  const auto& d = o.dist;
  if (mode == comm::Mode::kAsync) return d.num_ps == 0;
  if (mode != comm::Mode::kSync) return false;
  return d.exchange == comm::ExchangeKind::kAuto || d.bucket_mb == 0 || d.compress_auto;
}

// Rank 0: the exchange the newest checkpoint in --model-dir recorded, when its run had this
// mode and these ranks (else empty); broadcast.
std::string recorded_choice(const TrainOptions& o, comm::Mode mode, int ranks, int rank) {
  std::string flags;
  if (rank == 0 && !o.output.model_dir.empty()) {
    const auto files = CheckpointDir(o.output.model_dir, o.output.keep_checkpoints).list();
    for (auto it = files.rbegin(); it != files.rend() && flags.empty(); ++it) {
      try {
        const RunInfo r = read_run_info(*it);
        if (r.mode == comm::to_string(mode) && r.ranks == ranks) flags = r.exchange;
        break;
      } catch (const std::exception&) {
        // Damaged: the chief's checkpoint choice passes over it too, and says so.
      }
    }
  }
  int length = static_cast<int>(flags.size());
  mpi_call("MPI_Bcast (recorded exchange)", MPI_Bcast, &length, 1, MPI_INT, 0, MPI_COMM_WORLD);
  flags.resize(static_cast<std::size_t>(length));
  mpi_call("MPI_Bcast (recorded exchange)", MPI_Bcast, flags.data(), length, MPI_CHAR, 0,
           MPI_COMM_WORLD);
  return flags;
}

double predict(const comm::ExchangeChoice& c, const ExchangePlan& p) {
  if (c.mode == comm::Mode::kAsync)
    return comm::predict_async_step(c.num_ps, p.link.ranks - c.num_ps, p.link, p.compute);
  return comm::predict_sync_step(c, p.link, p.compute);
}

// Every rank ranked the same alternatives from the same broadcast facts; rank 0's pick is
// broadcast all the same, so that no difference in float evaluation can split the job.
comm::ExchangeChoice chosen_by_rank0(const std::vector<comm::Alternative>& ranked,
                                     const comm::Alternative& mine) {
  int index = static_cast<int>(&mine - ranked.data());
  mpi_call("MPI_Bcast (the exchange chosen)", MPI_Bcast, &index, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ranked[static_cast<std::size_t>(index)].choice;
}

// A flag's value after `name` in `flags`, or "".
std::string flag_value(const std::string& flags, const std::string& name) {
  std::istringstream in(flags);
  std::string word;
  while (in >> word) {
    if (word == name && in >> word) return word;
  }
  return "";
}

}  // namespace

std::optional<comm::ExchangeChoice> parse_choice(comm::Mode mode, const std::string& flags) {
  comm::ExchangeChoice c;
  c.mode = mode;
  try {
    if (mode == comm::Mode::kAsync) {
      c.num_ps = std::stoi(flag_value(flags, "--num-ps"));
      return c.num_ps >= 1 ? std::optional(c) : std::nullopt;
    }
    const std::string kind = flag_value(flags, "--exchange"),
                      wire = flag_value(flags, "--compress");
    if ((kind != "sharded" && kind != "whole" && kind != "ring") ||
        (wire != "none" && wire != "fp16"))
      return std::nullopt;
    c.sharded = kind == "sharded";
    c.ring = kind == "ring";
    c.wire = wire == "fp16" ? comm::Compression::kFp16 : comm::Compression::kNone;
    c.bucket_mb = std::stod(flag_value(flags, "--bucket-mb"));
    return c.bucket_mb > 0 ? std::optional(c) : std::nullopt;
  } catch (const std::exception&) {  // stoi/stod of a damaged record
    return std::nullopt;
  }
}

ExchangePlan plan_exchange(const TrainOptions& o, const comm::MpiEnv& mpi,
                           const std::vector<int>& node_of_rank) {
  ExchangePlan p;
  const comm::Mode mode = run_mode(o, mpi.size());
  p.choice = flagged_choice(o, mode);
  p.source = "given by the flags";
  if (!has_choice(o, mode)) return p;
  if (std::set<int>(node_of_rank.begin(), node_of_rank.end()).size() < 2) {
    p.source = "one node: nothing measured, today's defaults";
    return p;
  }
  const int64_t batch = o.training.batch_size;
  const int64_t rows = mode == comm::Mode::kSync ? (batch + mpi.size() - 1) / mpi.size() : batch;
  ComputeProbe probe(o, mpi, rows);
  if (!probe.ready()) {
    p.source = "not measured: the training data did not open";
    return p;
  }
  p.compute = probe.measure();
  p.link = comm::probe_links(MPI_COMM_WORLD, node_of_rank, mode == comm::Mode::kSync,
                             [&](bool on) { probe.load(on); });
  p.alternatives = comm::rank_alternatives(mode, p.link, p.compute, limits_of(o));
  p.fallback = p.choice;
  p.choice = chosen_by_rank0(p.alternatives, comm::choose(p.alternatives, p.fallback));
  p.source = p.choice.name() == p.alternatives.front().choice.name()
                 ? "chosen from the measured links"
                 : "the default kept: no alternative predicted 5% faster";
  const std::string kept = recorded_choice(o, mode, mpi.size(), mpi.rank());
  if (const auto c = parse_choice(mode, kept); c && comm::within_limits(*c, limits_of(o))) {
    p.choice = *c;
    p.source = "kept from the checkpoint this run resumes";
  }
  p.predicted_step = predict(p.choice, p);
  return p;
}

std::string describe_plan(const ExchangePlan& p) {
  if (!p.link.measured) return "";
  const auto& l = p.link;
  const auto& c = p.compute;
  char line[512];
  std::string out;
  std::snprintf(line, sizeof line,
                "links measured in %.2f s over %d nodes: alpha %.0f us, beta %.0f MB/s one-way\n",
                l.seconds, l.nodes, l.alpha * 1e6, l.beta / 1e6);
  out += line;
  const double S = c.gradient_bytes;
  if (p.choice.mode == comm::Mode::kSync) {
    std::snprintf(line, sizeof line,
                  "  on the %.1f MB gradient: allreduce %.1f ms (ring %.1f ms), reduce-scatter "
                  "%.1f ms, allgather %.1f ms\n",
                  S / 1e6, 1e3 * l.allreduce.seconds(S), 1e3 * l.allreduce_ring.seconds(S),
                  1e3 * l.reduce_scatter.seconds(S), 1e3 * l.allgather.seconds(S));
    out += line;
  }
  std::snprintf(line, sizeof line,
                "compute measured: step %.1f ms (batch %lld), optimizer %.1f ms, fp16 "
                "encode+decode %.1f ms\n",
                1e3 * c.step, static_cast<long long>(c.batch), 1e3 * c.optimizer,
                1e3 * c.fp16_per_byte * S);
  out += line;
  out += "  predicted step of each alternative:\n";
  for (const auto& a : p.alternatives) {
    std::snprintf(line, sizeof line, "    %-26s %8.1f ms  %8.0f img/s%s\n", a.choice.name().c_str(),
                  1e3 * a.step, a.images_s, a.choice.name() == p.choice.name() ? "  <-" : "");
    out += line;
  }
  std::snprintf(line, sizeof line, "exchange: %s, %s (predicted step %.1f ms; to pin it: %s)\n",
                p.choice.name().c_str(), p.source.c_str(), 1e3 * p.predicted_step,
                p.choice.flags().c_str());
  return out + line;
}

std::string prediction_miss(const ExchangePlan& p, double measured_step) {
  if (p.predicted_step <= 0 || measured_step <= 0) return "";
  const double ratio = measured_step / p.predicted_step;
  if (std::abs(ratio - 1) <= kPredictionTolerance) return "";
  char text[512];
  std::snprintf(text, sizeof text,
                "warning: the exchange's prediction missed by %+.0f%%: a step took %.1f ms, the "
                "model predicted %.1f ms for %s (links alpha %.0f us, beta %.0f MB/s at start-up; "
                "compute %.1f ms). The links or the load changed since the measurement, or the "
                "model does not fit this machine; pin a choice with %s",
                100 * (ratio - 1), 1e3 * measured_step, 1e3 * p.predicted_step,
                p.choice.name().c_str(), p.link.alpha * 1e6, p.link.beta / 1e6,
                1e3 * p.compute.step, p.choice.flags().c_str());
  return text;
}

}  // namespace dtrain::train
