// The start-up measurement of the links (exchange_model.h's LinkFacts), collective over a
// communicator whose ranks span nodes: what scripts/bench_cluster.sh measures over minutes, cut
// to what the choice needs and to well under 2 s on a 200 Mbit/s link.
//
// - alpha: half the median round trip of 8 bytes (5 of them) between the first ranks of two
//   nodes;
// - beta: a one-way stream of kStreamBytes between the same two;
// - each collective the exchanges call (MPI_Allreduce with Open MPI's choice and, beyond 2
//   nodes, on a ring communicator; MPI_Reduce_scatter; MPI_Allgatherv), on all ranks: seconds
//   per byte from the median of 3 calls on 4 KB and one on kCollectiveBytes (the fastest of 3
//   where one takes under 50 ms), on idle ranks; then the latency, from the median of 3 calls
//   on 4 KB while every rank computes
//   (set_load), as buckets run beside backward. Where hosts share their cores with the network
//   stack and the ranks' threads (the emulated hosts: 3 ranks on 2 cores), a call beside
//   compute waits for peers the scheduler has put aside, and the bucket size turns on that
//   (3 hosts unshaped, sharded: 1 MB buckets 175 img/s, 4 MB 459, 16 MB 869); idle calls
//   showed none of it. Small calls come first: they open the connections, which the large one
//   then finds open. One large call of 2 MB keeps the probe near 1.5 s at 200 Mbit/s on 3
//   nodes.
// Every rank takes part; the results are the same on every rank (rank 0's, broadcast).
#pragma once

#include <mpi.h>

#include <functional>
#include <vector>

#include "comm/exchange_model.h"

namespace dtrain::comm {

inline constexpr int kStreamBytes = 2 << 20;
inline constexpr int kCollectiveBytes = 2 << 20;

// node_of_rank: the node of every rank (consensus.h). One node: nothing is measured.
// with_collectives: false for async mode, whose model needs alpha and beta alone. set_load(on)
// starts and stops the ranks' compute (compute_probe.h).
LinkFacts probe_links(MPI_Comm comm, const std::vector<int>& node_of_rank, bool with_collectives,
                      const std::function<void(bool)>& set_load);

}  // namespace dtrain::comm
