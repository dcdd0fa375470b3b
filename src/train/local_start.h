// The node-local checkpoint level at start-up (--local-checkpoint-dir), collective: restore
// from it when it holds a whole step newer than the checkpoint the chief chose in --model-dir
// (which `checkpoint` names; it is cleared when the node-local level wins), then start this
// rank's LocalLevel, and say on the chief where each node keeps what and who copies whom.
#pragma once

#include <string>

#include "train/job_context.h"

namespace dtrain::train {

void start_local_level(JobContext& ctx, std::string& checkpoint);

}  // namespace dtrain::train
