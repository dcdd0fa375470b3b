#include "train/local_start.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>

#include "train/local_restore.h"
#include "util/mpi_call.h"

namespace dtrain::train {

namespace {

constexpr int kHostChars = 64;

std::vector<std::string> hosts_of_ranks(int size) {
  char mine[kHostChars] = {};
  gethostname(mine, kHostChars - 1);
  std::vector<char> all(static_cast<std::size_t>(size) * kHostChars);
  mpi_call("MPI_Allgather (host names)", MPI_Allgather, mine, kHostChars, MPI_CHAR, all.data(),
           kHostChars, MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> hosts;
  for (int r = 0; r < size; ++r)
    hosts.emplace_back(all.data() + static_cast<std::size_t>(r) * kHostChars);
  return hosts;
}

// The step of a --model-dir checkpoint file ("ckpt-<step>.h5"), -1 for none.
int64_t checkpoint_step(const std::string& path) {
  static const std::regex name(R"(ckpt-(\d+)\.h5)");
  std::smatch m;
  const std::string file = std::filesystem::path(path).filename().string();
  return std::regex_match(file, m, name) ? std::stoll(m[1]) : -1;
}

// A name for this run, the same on every rank: its parts are never mixed with another run's.
std::string run_id(int rank) {
  long long id[2] = {0, 0};
  if (rank == 0) {
    id[0] = std::chrono::system_clock::now().time_since_epoch().count();
    id[1] = getpid();
  }
  mpi_call("MPI_Bcast (run id)", MPI_Bcast, id, 2, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  return std::to_string(id[0]) + "-" + std::to_string(id[1]);
}

void warn_if_unusable(const LocalStore& store, int rank, const std::string& host) {
  std::error_code ec;
  std::filesystem::create_directories(store.root(), ec);
  if (!ec) return;
  std::fprintf(stderr,
               "warning: [rank %d on %s] --local-checkpoint-dir: cannot create %s: %s; this node "
               "keeps no node-local checkpoints (its partner's copies and the parallel file "
               "system's checkpoints still do)\n",
               rank, host.c_str(), store.root().c_str(), ec.message().c_str());
}

void print_level(const JobContext& ctx, const std::vector<std::string>& hosts) {
  const auto& out = ctx.options.output;
  std::printf(
      "node-local checkpoints: %s on every node (here %s), every %s; each rank's parts of "
      "the last three steps kept, partner copies of the last two\n",
      ctx.local->store().root().c_str(), LocalStore::describe(out.local_checkpoint_dir).c_str(),
      out.local_checkpoint_steps > 0
          ? (std::to_string(out.local_checkpoint_steps) + " steps").c_str()
          : "N steps (auto: a cost within 2% of the step)");
  const std::string table = Partners::table(ctx.nodes, hosts);
  if (table.empty()) {
    std::printf(
        "  one node: no partner copies (losing this node loses its parts; the parallel "
        "file system's checkpoints remain)\n");
  } else {
    std::printf("  partner copies (each rank's parts also kept on the next node):\n%s",
                table.c_str());
  }
  if (ctx.roles.mode == comm::Mode::kAsync && ctx.options.dist.max_staleness >= 0)
    std::printf(
        "  workers at most %lld steps apart (--max-staleness): a lost worker stops the others "
        "within as many steps\n",
        static_cast<long long>(ctx.options.dist.max_staleness));
}

}  // namespace

void start_local_level(JobContext& ctx, std::string& checkpoint) {
  const auto& out = ctx.options.output;
  const int rank = ctx.mpi.rank();
  auto store = std::make_unique<LocalStore>(
      out.local_checkpoint_dir, local_fingerprint(ctx.state_header(0, 0), out.model_dir));
  {
    comm::Watchdog::Scope guard(ctx.watchdog.get(), "restoring from the node-local checkpoints");
    const auto hosts = hosts_of_ranks(ctx.mpi.size());
    warn_if_unusable(*store, rank, hosts[static_cast<std::size_t>(rank)]);
    LocalRestore r = restore_local(*store, MPI_COMM_WORLD, ctx.nodes, checkpoint_step(checkpoint));
    if (r.state && r.step > ctx.facts.total_steps) {
      r.report = "the node-local level's step " + std::to_string(r.step) + " is past the " +
                 std::to_string(ctx.facts.total_steps) + " steps of this run: not used";
      r.state.reset();
    }
    if (r.state) {
      ctx.resumed = std::move(*r.state);
      ctx.resumed_path = "the node-local level";
      checkpoint.clear();
    }
    ctx.local_report = r.report;
    ctx.local_run_id = run_id(rank);
    ctx.local =
        std::make_unique<LocalLevel>(std::move(store), MPI_COMM_WORLD, ctx.nodes, ctx.stall());
    if (rank == 0) print_level(ctx, hosts);
  }
  std::fflush(stdout);
}

}  // namespace dtrain::train
