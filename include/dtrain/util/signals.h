// Signals a batch job gets from its scheduler: SIGUSR1 (Slurm's --signal warning before the
// time limit) asks for a checkpoint and training goes on; SIGTERM and SIGINT (preemption,
// scancel, Ctrl-C) ask for a checkpoint and a stop. The handlers only set flags; the training
// loop acts on them between steps.
#pragma once

namespace dtrain {

enum SignalRequest : int { kNoRequest = 0, kCheckpointRequest = 1, kStopRequest = 2 };

// Installs the handlers (idempotent).
void install_signal_handlers();
// The requests received since the last call (kCheckpointRequest | kStopRequest), cleared.
int take_signal_requests();

}  // namespace dtrain
