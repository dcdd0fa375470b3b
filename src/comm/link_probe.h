// The start-up measurement of the links (exchange_model.h's LinkFacts), collective over a
// communicator whose ranks span nodes: what scripts/bench_cluster.sh measures over minutes, cut
// to what the choice needs and to well under 2 s on a 200 Mbit/s link.
//
// - alpha: half the median round trip of 8 bytes (5 of them) between the first ranks of two
//   nodes;
// - beta: a one-way stream of kStreamBytes between the same two;
// - each collective the exchanges call (MPI_Allreduce with Open MPI's choice and, beyond 2
//   nodes, on a ring communicator; MPI_Reduce_scatter; MPI_Allgatherv), on all ranks: a line
//   through the median of 3 calls on 4 KB and one call on kCollectiveBytes. Small calls come
//   first: they open the connections, which the large one then finds open. The large call is
//   of today's default bucket size: Open MPI picks its algorithm by message size, and with a
//   line through 2 MB the 2-host steps of the whole allreduce came out 40-60% slower than
//   predicted (bench_auto.sh).
// One large call each keeps the probe within 2 s at 200 Mbit/s on 3 nodes; the run compares its
// measured step with the prediction at the end, which says when a probe misled it.
// Every rank takes part; the results are the same on every rank (rank 0's, broadcast).
#pragma once

#include <mpi.h>

#include "comm/exchange_model.h"

namespace dtrain::comm {

inline constexpr int kStreamBytes = 2 << 20;
inline constexpr int kCollectiveBytes = 4 << 20;

// node_of_rank: the node of every rank (consensus.h). One node: nothing is measured.
LinkFacts probe_links(MPI_Comm comm, const std::vector<int>& node_of_rank);

}  // namespace dtrain::comm
