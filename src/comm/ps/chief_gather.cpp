// The chief's collection from every server: a checkpoint's state, the final weights, and the
// workers' records for the report.
#include "comm/ps/client.h"

#include <algorithm>

#include "comm/ps/server.h"
#include "dtrain/util/error.h"
#include "util/mpi_call.h"

namespace dtrain::comm {

using W = PsLayout::Word;

void ParameterServerClient::pull_final(float* params) {
  for (std::size_t p = 0; p < window_.shards().size(); ++p) {
    const int ps = static_cast<int>(p);
    rma_.stall().wait_until(
        [&] {
          return rma_.read(server(ps), PsLayout::word(W::kFinished), "reading the server state") ==
                 1;
        },
        "chief waiting for parameter server " + std::to_string(ps) + " to apply the last gradients",
        [&] { return "parameter server rank " + std::to_string(server(ps)) + " or a worker"; });
  }
  pull(params);
}

WorkerRecord ParameterServerClient::all_workers() const {
  WorkerRecord sum;
  sum.finished = 1;
  for (int w = 0; w < workers_; ++w) {
    const WorkerRecord r = WorkerRecord::from_doubles(rma_.read_doubles(
        0, window_.layout(0).record(w), WorkerRecord::kDoubles, "reading worker statistics"));
    sum.finished = std::min(sum.finished, r.finished);
    sum.images += r.images;
    sum.train_seconds = std::max(sum.train_seconds, r.train_seconds);
    sum.staleness_sum += r.staleness_sum;
    sum.staleness_max = std::max(sum.staleness_max, r.staleness_max);
    sum.staleness_count += r.staleness_count;
    sum.pull_retries += r.pull_retries;
    sum.staleness_wait_seconds += r.staleness_wait_seconds;
  }
  return sum;
}

GatheredState ParameterServerClient::gather_state(int64_t steps, std::size_t total_floats,
                                                  const std::vector<std::string>& state_names) {
  wait_for_clocks(steps);
  GatheredState g;
  g.params.assign(total_floats, 0.f);
  for (const auto& name : state_names)
    g.optimizer.emplace_back(name, std::vector<float>(total_floats, 0.f));
  ++checkpoint_requests_;
  const auto& shards = window_.shards();
  for (std::size_t p = 0; p < shards.size(); ++p) {
    rma_.replace(server(static_cast<int>(p)), PsLayout::word(W::kCheckpoint), checkpoint_requests_,
                 "requesting a checkpoint");
  }
  for (std::size_t p = 0; p < shards.size(); ++p) {
    const int ps = static_cast<int>(p);
    int64_t header[4] = {};
    std::vector<MPI_Request> reqs(2 + state_names.size(), MPI_REQUEST_NULL);
    const char* what = "MPI_Irecv (server state for a checkpoint)";
    const auto count = static_cast<int>(shards[p].size());
    const int from = server(ps);
    mpi_call(what, MPI_Irecv, header, 4, MPI_INT64_T, from, ParameterServer::kCheckpointTag,
             MPI_COMM_WORLD, &reqs[0]);
    mpi_call(what, MPI_Irecv, g.params.data() + shards[p].begin, count, MPI_FLOAT, from,
             ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[1]);
    for (std::size_t i = 0; i < state_names.size(); ++i) {
      mpi_call(what, MPI_Irecv, g.optimizer[i].second.data() + shards[p].begin, count, MPI_FLOAT,
               from, ParameterServer::kCheckpointTag, MPI_COMM_WORLD, &reqs[2 + i]);
    }
    rma_.stall().wait(
        reqs, "receiving parameter server " + std::to_string(ps) + "'s state for a checkpoint",
        [&] { return "parameter server rank " + std::to_string(from); });
    if (header[3] != static_cast<int64_t>(state_names.size())) {
      throw Error("parameter server " + std::to_string(ps) + " sent " + std::to_string(header[3]) +
                  " optimizer state arrays, expected " + std::to_string(state_names.size()));
    }
    g.servers.push_back({shards[p], header[0], header[1], header[2]});
  }
  g.worker_steps = read_clocks();
  return g;
}

}  // namespace dtrain::comm
