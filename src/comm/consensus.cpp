#include "comm/consensus.h"

#include <unistd.h>

#include "util/mpi_call.h"

namespace dtrain::comm {

std::optional<std::string> first_error(const std::optional<std::string>& mine, MPI_Comm comm) {
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  const int candidate = mine ? rank : size;
  int first = size;
  mpi_call("MPI_Allreduce (start-up verdict)", MPI_Allreduce, &candidate, &first, 1, MPI_INT,
           MPI_MIN, comm);
  if (first == size) return std::nullopt;
  std::string text;
  if (rank == first) {
    text = *mine;
    if (size > 1) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      text = "[rank " + std::to_string(rank) + " on " + host + "] " + text;
    }
  }
  int length = static_cast<int>(text.size());
  mpi_call("MPI_Bcast (start-up verdict)", MPI_Bcast, &length, 1, MPI_INT, first, comm);
  text.resize(static_cast<std::size_t>(length));
  mpi_call("MPI_Bcast (start-up verdict)", MPI_Bcast, text.data(), length, MPI_CHAR, first, comm);
  return text;
}

std::vector<int> ranks_differing(std::uint64_t digest, MPI_Comm comm) {
  int size = 1;
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size));
  mpi_call("MPI_Allgather (options digest)", MPI_Allgather, &digest, 1, MPI_UINT64_T, all.data(), 1,
           MPI_UINT64_T, comm);
  std::vector<int> differ;
  for (int r = 1; r < size; ++r) {
    if (all[static_cast<std::size_t>(r)] != all[0]) differ.push_back(r);
  }
  return differ;
}

std::vector<int> node_of_each_rank(MPI_Comm comm) {
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  MPI_Comm node = MPI_COMM_NULL;
  mpi_call("MPI_Comm_split_type (node)", MPI_Comm_split_type, comm, MPI_COMM_TYPE_SHARED, rank,
           MPI_INFO_NULL, &node);
  int leader = rank;
  mpi_call("MPI_Allreduce (node leader)", MPI_Allreduce, &rank, &leader, 1, MPI_INT, MPI_MIN, node);
  mpi_call("MPI_Comm_free", MPI_Comm_free, &node);
  std::vector<int> all(static_cast<std::size_t>(size));
  mpi_call("MPI_Allgather (node of each rank)", MPI_Allgather, &leader, 1, MPI_INT, all.data(), 1,
           MPI_INT, comm);
  return all;
}

int count_on_node(bool counted, MPI_Comm comm) {
  int rank = 0;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, comm, &rank);
  MPI_Comm node = MPI_COMM_NULL;
  mpi_call("MPI_Comm_split_type (node)", MPI_Comm_split_type, comm, MPI_COMM_TYPE_SHARED, rank,
           MPI_INFO_NULL, &node);
  const int mine = counted ? 1 : 0;
  int total = 0;
  mpi_call("MPI_Allreduce (ranks on the node)", MPI_Allreduce, &mine, &total, 1, MPI_INT, MPI_SUM,
           node);
  mpi_call("MPI_Comm_free", MPI_Comm_free, &node);
  return total;
}

std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace dtrain::comm
