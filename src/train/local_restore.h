// Restoring from the node-local checkpoint level at start-up (collective, every rank).
//
// The first rank of every node reads its node's store (own parts and partner copies), checks
// each part (a torn or foreign file is named and passed over), and tells the others what the
// node holds. Every rank then takes the same decision: the newest step whose parts together
// are the whole state somewhere, if it is newer than the parallel file system's checkpoint
// (pfs_step); each part needed is broadcast by one rank that holds it, and every rank assembles
// the whole state, which the runners re-shard to this run's layout as they do a checkpoint
// file's.
#pragma once

#include <mpi.h>

#include <optional>
#include <string>
#include <vector>

#include "train/local_store.h"

namespace dtrain::train {

struct LocalRestore {
  std::optional<TrainingState> state;  // set when the node-local level wins
  int64_t step = -1;                   // its step
  // The newest step a rank of the previous run recorded (-1: unknown), with the node-local
  // interval it was taking checkpoints at.
  LocalStore::Reached reached;
  std::string report;  // what the chief prints: the level, the step, the steps lost
};

// Collective, blocking (the caller's watchdog guards it).
LocalRestore restore_local(const LocalStore& store, MPI_Comm world,
                           const std::vector<int>& node_of_rank, int64_t pfs_step);

}  // namespace dtrain::train
