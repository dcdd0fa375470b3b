#include "comm/link_probe.h"

#include <algorithm>
#include <set>
#include <vector>

#include "comm/sync/ring_comm.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

namespace {

constexpr int kSmallBytes = 4096;

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

// A line through the small and the large call (fn(bytes) makes one call on `bytes`).
template <typename Fn>
CollectiveCost collective_line(MPI_Comm comm, Fn&& fn) {
  const double small = median(timed(comm, 3, [&] { fn(kSmallBytes); }));
  const double large = timed(comm, 1, [&] { fn(kCollectiveBytes); }).front();
  const double per_byte = std::max(0.0, (large - small) / (kCollectiveBytes - kSmallBytes));
  return {std::max(0.0, small - per_byte * kSmallBytes), per_byte};
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

void collectives(MPI_Comm comm, int ranks, LinkFacts& f) {
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
  f.allreduce = collective_line(comm, allreduce(comm));
  f.allreduce_ring = f.allreduce;  // on 2 nodes a ring is what Open MPI runs anyway
  if (f.nodes > 2) {
    RingComm ring(comm);
    f.allreduce_ring = collective_line(ring.comm(), allreduce(ring.comm()));
  }
  f.reduce_scatter = collective_line(comm, [&](int bytes) {
    const auto counts = pieces(bytes);
    mpi_call("MPI_Reduce_scatter (link probe)", MPI_Reduce_scatter, buffer.data(), out.data(),
             counts.data(), MPI_FLOAT, MPI_SUM, comm);
  });
  f.allgather = collective_line(comm, [&](int bytes) {
    const auto counts = pieces(bytes);
    std::vector<int> displs(counts.size());
    for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
    mpi_call("MPI_Allgatherv (link probe)", MPI_Allgatherv, MPI_IN_PLACE, 0, MPI_DATATYPE_NULL,
             buffer.data(), counts.data(), displs.data(), MPI_FLOAT, comm);
  });
}

}  // namespace

LinkFacts probe_links(MPI_Comm comm, const std::vector<int>& node_of_rank) {
  LinkFacts f;
  f.ranks = static_cast<int>(node_of_rank.size());
  f.nodes = static_cast<int>(std::set<int>(node_of_rank.begin(), node_of_rank.end()).size());
  if (f.nodes < 2) return f;
  const double t0 = MPI_Wtime();
  collectives(comm, f.ranks, f);
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
