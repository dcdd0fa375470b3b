// The settings of dtrain's stall detection, as one value that travels from the options to every
// wait on other ranks (the polled waits, the watchdog of blocking calls, the evaluation's sum).
#pragma once

namespace dtrain::comm {

struct StallSettings {
  // --stall-timeout: a wait on other ranks that makes no progress for this long ends the job,
  // naming what it waited for and which ranks are missing. Long enough for a slow checkpoint
  // or evaluation on a loaded node, short against a batch job's hours.
  double timeout_seconds = 300.0;
};

}  // namespace dtrain::comm
