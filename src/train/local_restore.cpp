#include "train/local_restore.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "comm/stall.h"
#include "dtrain/util/error.h"
#include "util/mpi_call.h"

namespace dtrain::train {

using nlohmann::json;

namespace {

// A part some node holds: where, and its header.
struct Held {
  int64_t step = 0;
  int writer = 0;
  std::string kind;
  bool copy = false;
  int holder = 0;  // the rank (of this run) that has its bytes
  CheckpointPart header;
};

// What the first rank of a node found in the node's store.
struct NodeFindings {
  std::map<std::tuple<int64_t, int, std::string>, std::vector<char>> bytes;
  json inventory = json::array();
  LocalStore::Reached reached;
};

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

NodeFindings read_node(const LocalStore& store, int rank) {
  NodeFindings f;
  f.reached = store.reached();
  std::set<std::tuple<int64_t, int, std::string>> seen;
  for (const auto& found : store.list()) {
    const auto key = std::make_tuple(found.step, found.writer, found.kind);
    if (seen.count(key)) continue;  // own part and a copy of it on one node: one is enough
    try {
      std::vector<char> bytes = read_bytes(found.path);
      CheckpointPart p = decode(bytes.data(), bytes.size(), found.path);
      if (p.step != found.step || p.writer != found.writer)
        throw DataError(found.path + ": holds another step or rank than its name says");
      for (auto& arr : p.arrays) arr.values.clear();  // the inventory carries headers only
      f.inventory.push_back({{"step", found.step},
                             {"writer", found.writer},
                             {"kind", found.kind},
                             {"copy", found.copy},
                             {"holder", rank},
                             {"header", header_text(p)}});
      f.bytes.emplace(key, std::move(bytes));
      seen.insert(key);
    } catch (const DataError& e) {
      std::fprintf(stderr,
                   "warning: [rank %d on %s] node-local checkpoint %s; passed over (another copy "
                   "or the parallel file system's checkpoint stands in)\n",
                   rank, host_name().c_str(), e.what());
    }
  }
  return f;
}

// Every rank's findings as text, to every rank.
std::vector<std::string> allgather_text(const std::string& mine, MPI_Comm comm) {
  int size = 0;
  mpi_call("MPI_Comm_size", MPI_Comm_size, comm, &size);
  const int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  mpi_call("MPI_Allgather (node-local checkpoints found)", MPI_Allgather, &length, 1, MPI_INT,
           lengths.data(), 1, MPI_INT, comm);
  int total = 0;
  for (int r = 0; r < size; ++r) {
    displs[static_cast<std::size_t>(r)] = total;
    total += lengths[static_cast<std::size_t>(r)];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  mpi_call("MPI_Allgatherv (node-local checkpoints found)", MPI_Allgatherv, mine.data(), length,
           MPI_CHAR, all.data(), lengths.data(), displs.data(), MPI_CHAR, comm);
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r)
    out.push_back(all.substr(static_cast<std::size_t>(displs[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  return out;
}

// Steps (with the run that wrote them), newest first, each with one holder per part.
using Catalogue = std::map<std::pair<int64_t, std::string>,
                           std::map<std::pair<int, std::string>, Held>, std::greater<>>;

Catalogue catalogue(const std::vector<std::string>& texts, LocalStore::Reached* reached) {
  Catalogue c;
  for (const auto& text : texts) {
    if (text.empty()) continue;
    const json j = json::parse(text);
    const LocalStore::Reached r{j.at("reached").get<int64_t>(), j.at("interval").get<int64_t>()};
    reached->merge(r);
    for (const auto& e : j.at("parts")) {
      Held h{e.at("step"),
             e.at("writer"),
             e.at("kind"),
             e.at("copy"),
             e.at("holder"),
             from_header_text(e.at("header").get<std::string>(), "a node's inventory")};
      auto& parts = c[{h.step, h.header.run}];
      const auto key = std::make_pair(h.writer, h.kind);
      if (!parts.count(key) || (parts.at(key).copy && !h.copy)) parts[key] = std::move(h);
    }
  }
  return c;
}

// The parts a step needs: every state part, one params part (they are the same).
std::vector<const Held*> needed(const std::map<std::pair<int, std::string>, Held>& parts) {
  std::vector<const Held*> out;
  bool params = false;
  for (const auto& [key, h] : parts) {
    if (h.kind == "params" && params) continue;
    params = params || h.kind == "params";
    out.push_back(&h);
  }
  return out;
}

// The chosen parts' bytes from their holders to every rank, decoded.
std::vector<CheckpointPart> fetch(const std::vector<const Held*>& chosen, NodeFindings& mine,
                                  int rank, MPI_Comm comm) {
  std::vector<CheckpointPart> parts;
  for (const Held* h : chosen) {
    std::vector<char> bytes;
    if (h->holder == rank) bytes = std::move(mine.bytes.at({h->step, h->writer, h->kind}));
    int64_t size = static_cast<int64_t>(bytes.size());
    mpi_call("MPI_Bcast (a node-local checkpoint part)", MPI_Bcast, &size, 1, MPI_INT64_T,
             h->holder, comm);
    bytes.resize(static_cast<std::size_t>(size));
    mpi_call("MPI_Bcast (a node-local checkpoint part)", MPI_Bcast, bytes.data(),
             static_cast<int>(size), MPI_BYTE, h->holder, comm);
    parts.push_back(decode(bytes.data(), bytes.size(),
                           "a part broadcast by rank " + std::to_string(h->holder)));
  }
  return parts;
}

// `newest`: the step the restored state reaches (async: its fastest worker's, which the reached
// steps of the previous run are compared with; the chief's step may trail it).
std::string describe_choice(const std::vector<const Held*>& chosen, int64_t step, int64_t newest,
                            const LocalStore::Reached& reached, const std::string& dir) {
  std::vector<int> copies;
  for (const Held* h : chosen)
    if (h->copy) copies.push_back(h->writer);
  std::string text = "restoring from the node-local level (" + dir + "): step " +
                     std::to_string(step) + ", " + std::to_string(chosen.size()) + " part(s)";
  text += copies.empty() ? ", all the writers' own copies"
                         : ", partner copies for the parts of rank(s) " + comm::rank_list(copies) +
                               " of the run that wrote it (their node is gone or its copy was bad)";
  if (reached.step >= newest)
    text += "; the previous run had reached step " + std::to_string(reached.step) + ": " +
            std::to_string(reached.step - newest) + " step(s) lost" +
            (reached.interval > 0
                 ? " (node-local checkpoints every " + std::to_string(reached.interval) + " steps)"
                 : "") +
            (newest != step ? " (by its fastest worker, at step " + std::to_string(newest) +
                                  " in the restored state)"
                            : "");
  return text;
}

// Async: the pushes the servers applied against the workers' steps, which must agree exactly.
std::string pushes_accounted(const TrainingState& s) {
  if (s.servers.empty() || s.worker_steps.empty()) return "";
  int64_t pushes = 0;
  for (const auto w : s.worker_steps) pushes += w;
  std::string applied;
  bool exact = true;
  for (const auto& c : s.servers) {
    applied += (applied.empty() ? "" : ", ") + std::to_string(c.pushes_applied);
    exact = exact && c.pushes_applied == pushes;
  }
  return exact ? "; every push up to step " + std::to_string(s.global_step) +
                     " exactly once: " + std::to_string(pushes) +
                     " applied by every server, the workers' steps add up to it"
               : "; WARNING: the servers applied " + applied +
                     " pushes, the workers' steps add up to " + std::to_string(pushes);
}

}  // namespace

LocalRestore restore_local(const LocalStore& store, MPI_Comm world,
                           const std::vector<int>& node_of_rank, int64_t pfs_step) {
  int rank = 0;
  mpi_call("MPI_Comm_rank", MPI_Comm_rank, world, &rank);
  const bool reads = node_of_rank[static_cast<std::size_t>(rank)] == rank;  // the node's first
  NodeFindings mine;
  std::string text;
  if (reads) {
    mine = read_node(store, rank);
    text = json{{"reached", mine.reached.step},
                {"interval", mine.reached.interval},
                {"parts", mine.inventory}}
               .dump();
  }
  LocalRestore out;
  const Catalogue steps = catalogue(allgather_text(text, world), &out.reached);
  std::string why = "it holds no step of this job", newer_not_whole;
  for (const auto& [key, parts] : steps) {
    if (key.first <= pfs_step) {
      why = "its newest whole step is not newer than the parallel file system's" + newer_not_whole;
      break;
    }
    const auto chosen = needed(parts);
    std::vector<const CheckpointPart*> headers;
    for (const Held* h : chosen) headers.push_back(&h->header);
    const std::string missing = missing_from(headers);
    if (!missing.empty()) {
      why = "step " + std::to_string(key.first) + " lacks " + missing +
            " (the node that wrote it and its partner are both gone, or their copies are bad)";
      newer_not_whole +=
          "; step " + std::to_string(key.first) + " was not whole (it lacks " + missing + ")";
      continue;
    }
    std::string lacking;
    out.state = assemble(fetch(chosen, mine, rank, world), &lacking);
    if (!out.state) throw Error("node-local step " + std::to_string(key.first) + ": " + lacking);
    out.step = key.first;
    const auto& w = out.state->worker_steps;
    const int64_t newest =
        w.empty() ? key.first : std::max(key.first, *std::max_element(w.begin(), w.end()));
    out.report = describe_choice(chosen, key.first, newest, out.reached, store.root()) +
                 pushes_accounted(*out.state) + newer_not_whole;
    return out;
  }
  out.report = "the node-local level (" + store.root() + ") is not used: " + why;
  return out;
}

}  // namespace dtrain::train
