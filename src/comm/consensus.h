// Collective verdicts: every rank brings what it found, every rank leaves with the same answer.
// They let a job refuse to start with one clear message and the same exit code everywhere,
// instead of some ranks giving up while the others wait for them in a collective.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dtrain::comm {

// Every rank passes its error, or nullopt; every rank gets back the error of the lowest rank
// that had one (prefixed with that rank and its host when there is more than one rank).
std::optional<std::string> first_error(const std::optional<std::string>& mine, MPI_Comm comm);

// The ranks whose `digest` differs from rank 0's (empty on every rank when all agree).
std::vector<int> ranks_differing(std::uint64_t digest, MPI_Comm comm);

// A node id for every rank (the lowest world rank on that node), the same on every rank.
std::vector<int> node_of_each_rank(MPI_Comm comm);

// How many ranks on this rank's node (MPI_COMM_TYPE_SHARED) pass `counted` = true.
int count_on_node(bool counted, MPI_Comm comm);

// FNV-1a: a digest that is the same for the same bytes on every rank and every build.
std::uint64_t fnv1a(const std::string& bytes);

}  // namespace dtrain::comm
