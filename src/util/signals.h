// Signals a batch job gets from its scheduler: SIGUSR1 (Slurm's --signal warning before the
// time limit) asks for a checkpoint and training goes on; SIGTERM and SIGINT (preemption,
// scancel, Ctrl-C) ask for a checkpoint and a stop, and so does SIGUSR2, because Open MPI's
// mpirun forwards only SIGUSR1 and SIGUSR2 to the ranks (it kills them on SIGTERM). They only
// set flags; the training loop acts on them between steps, at a step all ranks agree on.
//
// The signals must never interrupt a oneDNN kernel. oneDNN before 3.11 (Debian 12 ships 2.6)
// points rsp into the heap inside its JIT GEMM kernels (oneDNN issue #4845), so a signal frame
// pushed there corrupts the heap: dense layers aborted in free() a few steps after a SIGTERM.
// So the signals are blocked in the thread that starts listening, and in every thread it starts
// later (compute, data, communication); one thread of ours takes them with sigwait.
#pragma once

namespace dtrain {

struct SignalRequests {
  bool checkpoint = false;
  bool stop = false;
};

// Starts listening (idempotent). Call it before any compute thread exists. Threads that were
// already running (MPI's own) keep the signals unblocked and run a handler that only sets the
// flags, so nothing is lost.
void start_signal_listener();
// The requests received since the last call, cleared.
SignalRequests take_signal_requests();

}  // namespace dtrain
