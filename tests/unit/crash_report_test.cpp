// The crash report (util/crash_report.h) in a child process that really crashes.
#include "util/crash_report.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <csignal>

namespace dtrain {
namespace {

using Callback = void (*)();

// Hidden from the optimiser, so that the call below really goes to address 0.
Callback null_callback() {
  static volatile Callback fn = nullptr;
  return fn;
}

// Not inlined: the call's return address then names this function. Clang's UBSan would check
// the callee's signature by reading memory before address 0: not here.
#if defined(__clang__)
__attribute__((noinline, no_sanitize("function")))
#else
__attribute__((noinline))
#endif
void call_through(Callback fn) {
  fn();
  asm volatile("");  // keeps the call a call (not a tail jump): its return address names us
}

// Killed by `sig`, or by SIGABRT from AddressSanitizer's handler (the tree of
// scripts/sanitize.sh, abort_on_error=1), which the report hands the signal to there.
bool killed_by(int status, int sig) {
  return WIFSIGNALED(status) && (WTERMSIG(status) == sig || WTERMSIG(status) == SIGABRT);
}

TEST(CrashReportDeathTest, NamesTheRankTheInstructionAndTheCallerOfANullPointer) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report("rank 7 on h9");
        call_through(null_callback());
      },
      [](int status) { return killed_by(status, SIGSEGV); },
      "dtrain: \\[rank 7 on h9\\] crashed: SEGV at address 0x0; instruction 0x0 "
      "\\(not in any mapping\\)\n"
      "dtrain: \\[rank 7 on h9\\] a call to address 0, returning to 0x[0-9a-f]+ /.*unit_tests\\+");
}

TEST(CrashReportDeathTest, ASignalSentByAnotherProcessStillEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_crash_report("rank 0 on h1");
        raise(SIGBUS);
      },
      [](int status) { return killed_by(status, SIGBUS); },
      "dtrain: \\[rank 0 on h1\\] crashed: BUS at address");
}

}  // namespace
}  // namespace dtrain
