// The main of every multi-rank test program (run under mpirun): GoogleTest on every rank, with
// the verdict reduced over the ranks. Every rank runs every test (test bodies are collective);
// rank 0 prints GoogleTest's usual report, any other rank prints its own failures prefixed
// with its rank, and after each test rank 0 names the ranks it failed on. The program's exit
// code is non-zero on every rank when any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <string>
#include <vector>

#include "dtrain/comm/mpi_env.h"
#include "mpi_test.h"

namespace dtrain::testing {

namespace {
int g_argc = 0;
char** g_argv = nullptr;

class RankVerdict : public ::testing::EmptyTestEventListener {
 public:
  explicit RankVerdict(int rank) : rank_(rank) {}

  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (rank_ == 0 || !r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
    std::fflush(stderr);
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int failed = info.result()->Failed() ? 1 : 0;
    std::vector<int> all(static_cast<std::size_t>(size));
    MPI_Gather(&failed, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank_ != 0) return;
    std::string ranks;
    for (int r = 0; r < size; ++r)
      if (all[static_cast<std::size_t>(r)])
        ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    if (!ranks.empty())
      std::printf("[  RANKS   ] %s.%s failed on rank(s) %s\n", info.test_suite_name(), info.name(),
                  ranks.c_str());
    std::fflush(stdout);
  }

 private:
  int rank_;
};
}  // namespace

std::string arg(const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < g_argc; ++i) {
    if (g_argv[i] == name) return g_argv[i + 1];
  }
  return fallback;
}

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

int size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

}  // namespace dtrain::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // MPI as mnist_train starts it (thread level, error handlers, transport choice across nodes).
  dtrain::comm::MpiEnv mpi(&argc, &argv);
  dtrain::testing::g_argc = argc;
  dtrain::testing::g_argv = argv;
  const int rank = dtrain::testing::rank();
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  listeners.Append(new dtrain::testing::RankVerdict(rank));
  const int failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
