#include "comm/link_probe.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "comm/sync/ring_comm.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {

constexpr int kSmallBytes = 4096;
constexpr double kLongEnoughSeconds = 0.05;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Seconds of each of `times` calls of fn, the ranks started together.
template <typename Fn>
std::vector<double> timed(MPI_Comm comm, int times, Fn&& fn) {
  std::vector<double> out;
  for (int i = 0; i < times; ++i) {
    mpi_call("MPI_Barrier (link probe)", MPI_Barrier, comm);
    const double t0 = MPI_Wtime();
    fn();
    out.push_back(MPI_Wtime() - t0);
  }
  return out;
}

// The first ranks of node 0 and of the first other node exchange; the rest wait at the barrier.
void point_to_point(MPI_Comm comm, const std::vector<int>& node_of_rank, LinkFacts& f) {
  const int rank = [&] {
    int r = 0;
    MPI_Comm_rank(comm, &r);
    return r;
  }();
  int peer = -1;
  for (std::size_t r = 0; r < node_of_rank.size(); ++r) {
    if (node_of_rank[r] != node_of_rank[0] && node_of_rank[r] == static_cast<int>(r)) {
      peer = static_cast<int>(r);
      break;
    }
  }
  std::vector<char> buffer(kStreamBytes);
  auto exchange = [&](int bytes, bool round_trip) {
    if (rank == 0) {
      mpi_call("MPI_Send (link probe)", MPI_Send, buffer.data(), bytes, MPI_BYTE, peer, 0, comm);
      if (round_trip)
        mpi_call("MPI_Recv (link probe)", MPI_Recv, buffer.data(), bytes, MPI_BYTE, peer, 0, comm,
                 MPI_STATUS_IGNORE);
    } else if (rank == peer) {
      mpi_call("MPI_Recv (link probe)", MPI_Recv, buffer.data(), bytes, MPI_BYTE, 0, 0, comm,
               MPI_STATUS_IGNORE);
      if (round_trip)
        mpi_call("MPI_Send (link probe)", MPI_Send, buffer.data(), bytes, MPI_BYTE, 0, 0, comm);
    }
  };
  f.alpha = median(timed(comm, 5, [&] { exchange(8, true); })) / 2;
  // A one-way stream ends when the receiver has it: the barrier after the send waits for that.
  const double stream = timed(comm, 1, [&] {
                          exchange(kStreamBytes, false);
                          mpi_call("MPI_Barrier (link probe)", MPI_Barrier, comm);
                        }).front();
  f.beta = kStreamBytes / std::max(1e-9, stream - f.alpha);
}

// One collective as an exchange calls it: call(bytes) makes one call on `bytes`.
struct Collective {
  CollectiveCost* cost;
  MPI_Comm comm;
  std::function<void(int)> call;
};

// The large call's seconds: one call where it takes long enough to measure (slow links, where
// the probe's time goes), the fastest of three where it is short and a single call is noise.
// Rank 0's first time decides for every rank, so that all make the same calls.
double fastest_large_call(const Collective& c) {
  double first = timed(c.comm, 1, [&] { c.call(kCollectiveBytes); }).front();
  double decide = first;
  mpi_call("MPI_Bcast (link probe)", MPI_Bcast, &decide, 1, MPI_DOUBLE, 0, c.comm);
  if (decide >= kLongEnoughSeconds) return first;
  const auto more = timed(c.comm, 2, [&] { c.call(kCollectiveBytes); });
  return std::min(first, *std::min_element(more.begin(), more.end()));
}

// Each collective's line: seconds per byte from an idle small and large call, latency from
// small calls while the ranks compute (set_load), as buckets run beside backward.
void measure_lines(const std::vector<Collective>& all, const std::function<void(bool)>& set_load) {
  for (const Collective& c : all) {
    const double small = median(timed(c.comm, 3, [&] { c.call(kSmallBytes); }));
    const double large = fastest_large_call(c);
    c.cost->per_byte = std::max(0.0, (large - small) / (kCollectiveBytes - kSmallBytes));
  }
  set_load(true);
  for (const Collective& c : all) {
    const double small = median(timed(c.comm, 3, [&] { c.call(kSmallBytes); }));
    c.cost->latency = std::max(0.0, small - c.cost->per_byte * kSmallBytes);
  }
  set_load(false);
}

void collectives(MPI_Comm comm, int ranks, LinkFacts& f,
                 const std::function<void(bool)>& set_load) {
  std::vector<float> buffer(kCollectiveBytes / sizeof(float)), out(buffer.size());
  auto floats = [](int bytes) { return bytes / static_cast<int>(sizeof(float)); };
  auto allreduce = [&](MPI_Comm c) {
    return [&buffer, &floats, c](int bytes) {
      mpi_call("MPI_Allreduce (link probe)", MPI_Allreduce, MPI_IN_PLACE, buffer.data(),
               floats(bytes), MPI_FLOAT, MPI_SUM, c);
    };
  };
  // Pieces of equal size per rank, as the sharded exchange's buckets cut them.
  auto pieces = [&](int bytes) {
    return std::vector<int>(static_cast<std::size_t>(ranks), floats(bytes) / ranks);
  };
  std::vector<Collective> all = {
      {&f.allreduce, comm, allreduce(comm)},
      {&f.reduce_scatter, comm,
       [&](int bytes) {
         const auto counts = pieces(bytes);
         mpi_call("MPI_Reduce_scatter (link probe)", MPI_Reduce_scatter, buffer.data(), out.data(),
                  counts.data(), MPI_FLOAT, MPI_SUM, comm);
       }},
      {&f.allgather, comm, [&](int bytes) {
         const auto counts = pieces(bytes);
         std::vector<int> displs(counts.size());
         for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
         mpi_call("MPI_Allgatherv (link probe)", MPI_Allgatherv, MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
                  buffer.data(), counts.data(), displs.data(), MPI_FLOAT, comm);
       }}};
  std::unique_ptr<RingComm> ring;  // on 2 nodes a ring is what Open MPI runs anyway
  if (f.nodes > 2) {
    ring = std::make_unique<RingComm>(comm);
    all.push_back({&f.allreduce_ring, ring->comm(), allreduce(ring->comm())});
  }
  measure_lines(all, set_load);
  if (!ring) f.allreduce_ring = f.allreduce;
}

}  // namespace

LinkFacts probe_links(MPI_Comm comm, const std::vector<int>& node_of_rank, bool with_collectives,
                      const std::function<void(bool)>& set_load) {
  LinkFacts f;
  f.ranks = static_cast<int>(node_of_rank.size());
  f.nodes = static_cast<int>(std::set<int>(node_of_rank.begin(), node_of_rank.end()).size());
  if (f.nodes < 2) return f;
  const double t0 = MPI_Wtime();
  if (with_collectives) collectives(comm, f.ranks, f, set_load);
  point_to_point(comm, node_of_rank, f);
  f.seconds = MPI_Wtime() - t0;
  f.measured = true;
  // Every rank timed its own view; rank 0's is the one every rank uses.
  double numbers[11] = {f.alpha,
                        f.beta,
                        f.allreduce.latency,
                        f.allreduce.per_byte,
                        f.allreduce_ring.latency,
                        f.allreduce_ring.per_byte,
                        f.reduce_scatter.latency,
                        f.reduce_scatter.per_byte,
                        f.allgather.latency,
                        f.allgather.per_byte,
                        f.seconds};
  mpi_call("MPI_Bcast (link probe)", MPI_Bcast, numbers, 11, MPI_DOUBLE, 0, comm);
  f.alpha = numbers[0];
  f.beta = numbers[1];
  f.allreduce = {numbers[2], numbers[3]};
  f.allreduce_ring = {numbers[4], numbers[5]};
  f.reduce_scatter = {numbers[6], numbers[7]};
  f.allgather = {numbers[8], numbers[9]};
  f.seconds = numbers[10];
  return f;
}

}  // namespace dtrain::comm
