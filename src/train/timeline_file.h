// --timeline FILE: every rank's recorded spans (src/util/timeline.h), merged by rank 0 into
// one Chrome trace-event JSON file that chrome://tracing and Perfetto open. Each rank is a
// process named "rank N (role) @host", each of its threads a lane. Timestamps are aligned to
// rank 0's clock with offsets measured at start-up (the least-delayed of several round trips).
#pragma once

#include <string>

#include "comm/watchdog.h"

namespace dtrain::train {

// Collective: starts recording on every rank and measures each rank's clock offset to rank 0.
void start_timeline(bool layers, comm::Watchdog* watchdog);

// Collective: gathers every rank's events and, on rank 0, writes them to `path` (atomically).
// `role` names this rank's part ("ps", or "worker"/"chief" with its precision: "chief, bf16").
void write_timeline(const std::string& path, const std::string& role, comm::Watchdog* watchdog);

}  // namespace dtrain::train
