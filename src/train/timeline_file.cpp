#include "train/timeline_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "dtrain/util/error.h"
#include "util/atomic_file.h"
#include "util/mpi_call.h"
#include "util/timeline.h"

namespace dtrain::train {

namespace {

constexpr int kRounds = 10, kTag = 7702;
double g_offset_us = 0;  // add to local times to get rank 0's
double g_origin_us = 0;  // rank 0's time at start-up: the file's zero

// NTP-style: the round trip with the least delay gives the best offset estimate.
double offset_to_rank0(int rank, int size) {
  double best_rtt = 1e300, best = 0;
  for (int r = 1; r < size; ++r) {
    for (int i = 0; i < kRounds; ++i) {
      if (rank == 0) {
        double ignored = 0;
        mpi_call("MPI_Recv (clock)", MPI_Recv, &ignored, 1, MPI_DOUBLE, r, kTag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        const double now = timeline::now_us();
        mpi_call("MPI_Send (clock)", MPI_Send, &now, 1, MPI_DOUBLE, r, kTag, MPI_COMM_WORLD);
      } else if (rank == r) {
        const double t1 = timeline::now_us();
        double t2 = 0;
        mpi_call("MPI_Send (clock)", MPI_Send, &t1, 1, MPI_DOUBLE, 0, kTag, MPI_COMM_WORLD);
        mpi_call("MPI_Recv (clock)", MPI_Recv, &t2, 1, MPI_DOUBLE, 0, kTag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        const double t3 = timeline::now_us();
        if (t3 - t1 < best_rtt) {
          best_rtt = t3 - t1;
          best = t2 - (t1 + t3) / 2;
        }
      }
    }
  }
  return best;
}

nlohmann::json metadata(int rank, const std::string& role, const timeline::Lane& lane) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  nlohmann::json out = nlohmann::json::array();
  if (lane.id == 0) {
    out.push_back(
        {{"name", "process_name"},
         {"ph", "M"},
         {"pid", rank},
         {"args", {{"name", "rank " + std::to_string(rank) + " (" + role + ") @" + host}}}});
    out.push_back({{"name", "process_sort_index"},
                   {"ph", "M"},
                   {"pid", rank},
                   {"args", {{"sort_index", rank}}}});
  }
  out.push_back({{"name", "thread_name"},
                 {"ph", "M"},
                 {"pid", rank},
                 {"tid", lane.id},
                 {"args", {{"name", lane.name}}}});
  return out;
}

// This rank's events as trace-event JSON objects (one per line, to be joined with commas).
std::string my_events(int rank, const std::string& role) {
  std::string text;
  auto add = [&](const nlohmann::json& j) { text += (text.empty() ? "" : ",\n") + j.dump(); };
  for (const auto& lane : timeline::lanes()) {
    for (const auto& m : metadata(rank, role, lane)) add(m);
    for (const auto& e : lane.events) {
      const double ts = e.start_us + g_offset_us - g_origin_us;
      if (e.counter) {
        add({{"name", e.name},
             {"ph", "C"},
             {"ts", ts},
             {"pid", rank},
             {"args", {{e.name, e.value}}}});
        continue;
      }
      nlohmann::json args = nlohmann::json::object();
      if (e.step >= 0) args["step"] = e.step;
      if (e.value != 0) args["bytes"] = e.value;
      if (e.run_queue_us > 0) args["run_queue_us"] = e.run_queue_us;
      add({{"name", e.name},
           {"cat", e.category},
           {"ph", "X"},
           {"ts", ts},
           {"dur", e.duration_us},
           {"pid", rank},
           {"tid", lane.id},
           {"args", args}});
    }
  }
  return text;
}

}  // namespace

void start_timeline(bool layers, comm::Watchdog* watchdog) {
  timeline::enable(layers);
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, MPI_COMM_WORLD, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, MPI_COMM_WORLD, &size);
  comm::Watchdog::Scope guard(watchdog, "measuring the clock offsets for --timeline");
  g_offset_us = offset_to_rank0(rank, size);
  g_origin_us = timeline::now_us() + g_offset_us;
  mpi_call("MPI_Bcast (timeline origin)", MPI_Bcast, &g_origin_us, 1, MPI_DOUBLE, 0,
           MPI_COMM_WORLD);
}

void write_timeline(const std::string& path, const std::string& role, comm::Watchdog* watchdog) {
  int rank = 0, size = 1;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, MPI_COMM_WORLD, &rank);
  mpi_call("MPI_Comm_size", MPI_Comm_size, MPI_COMM_WORLD, &size);
  const std::string mine = my_events(rank, role);
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size)), starts(static_cast<std::size_t>(size));
  std::string all;
  {
    comm::Watchdog::Scope guard(watchdog, "gathering the timeline of every rank");
    mpi_call("MPI_Gather (timeline sizes)", MPI_Gather, &length, 1, MPI_INT, lengths.data(), 1,
             MPI_INT, 0, MPI_COMM_WORLD);
    int total = 0;
    for (int r = 0; r < size; ++r) {
      starts[static_cast<std::size_t>(r)] = total;
      total += lengths[static_cast<std::size_t>(r)];
    }
    all.resize(rank == 0 ? static_cast<std::size_t>(total) : 0);
    mpi_call("MPI_Gatherv (timeline)", MPI_Gatherv, mine.data(), length, MPI_CHAR, all.data(),
             lengths.data(), starts.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
  }
  if (rank != 0) return;
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    if (!out) throw Error("--timeline: cannot write " + tmp);
    out << "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n";
    bool first = true;
    for (int r = 0; r < size; ++r) {
      if (lengths[static_cast<std::size_t>(r)] == 0) continue;
      out << (first ? "" : ",\n");
      out.write(all.data() + starts[static_cast<std::size_t>(r)],
                lengths[static_cast<std::size_t>(r)]);
      first = false;
    }
    out << "\n]}\n";
    out.close();
    if (!out) throw Error("--timeline: error writing " + tmp);
  });
  std::printf("timeline: %s (%d ranks; open it in chrome://tracing or ui.perfetto.dev)\n",
              path.c_str(), size);
  std::fflush(stdout);
}

}  // namespace dtrain::train
