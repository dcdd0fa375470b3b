// Where a rank crashed, printed before it dies. Open MPI's own handler prints a backtrace, but
// a call through a null function pointer (or a return to address 0) leaves it one frame: the
// signal trampoline, with nothing of the code that crashed. This report names the rank, the
// faulting instruction and, when that is address 0, the caller (the return address the call
// left on the stack), each as file + offset (for addr2line) from /proc/self/maps, then hands
// the signal to the handler that was there before (Open MPI's), which prints its backtrace and
// ends the process as it would have without this report.
#pragma once

namespace dtrain {

// Installs the report for SIGSEGV, SIGBUS, SIGILL and SIGFPE (idempotent). Call it after
// MPI_Init, so that the handler MPI installs there is the one the report hands over to.
// `who` (for example "rank 3 on h2") is copied; it starts each line of the report.
void install_crash_report(const char* who);

}  // namespace dtrain
