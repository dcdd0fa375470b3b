// Signals a batch job gets from its scheduler: SIGUSR1 (Slurm's --signal warning before the
// time limit) asks for a checkpoint and training goes on; SIGTERM and SIGINT (preemption,
// scancel, Ctrl-C) ask for a checkpoint and a stop, and so does SIGUSR2, because Open MPI's
// mpirun forwards only SIGUSR1 and SIGUSR2 to the ranks (it kills them on SIGTERM). The handlers
// only set flags; the training loop acts on them between steps, at a step all ranks agree on.
#pragma once

namespace dtrain {

struct SignalRequests {
  bool checkpoint = false;
  bool stop = false;
};

// Installs the handlers (idempotent).
void install_signal_handlers();
// The requests received since the last call, cleared.
SignalRequests take_signal_requests();

}  // namespace dtrain
