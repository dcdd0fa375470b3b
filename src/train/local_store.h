// LocalStore: one job's files in a node-local directory (--local-checkpoint-dir DIR), the
// node-local checkpoint level:
//   DIR/dtrain-<job>/step-<S>/r<R>.<kind>.dtl        rank R's own part of step S (kind: state
//                                                    or params)
//   DIR/dtrain-<job>/step-<S>/r<R>.<kind>.copy.dtl   the copy rank R sent its partner here
//   DIR/dtrain-<job>/reached-<R>                the last step rank R completed
// <job> is the job's fingerprint (checkpoint_part.h), so jobs sharing a node's directory never
// read each other's parts. Parts are written under a temporary name and renamed: whole or
// absent. A process keeps the newest steps of each series it writes (see write()).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "train/checkpoint_part.h"

namespace dtrain::train {

class LocalStore {
 public:
  LocalStore(const std::string& dir, const std::string& fingerprint);
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  const std::string& root() const { return root_; }

  struct Found {
    int64_t step = 0;
    int writer = 0;
    std::string kind;   // "state" or "params"
    bool copy = false;  // a partner's copy (else the writer's own)
    std::string path;
  };
  // Every part file here (any writer), newest step first. A missing directory holds none.
  std::vector<Found> list() const;
  // Reads and checks one part; DataError naming the file when it is torn or foreign.
  CheckpointPart read(const Found& f) const;
  std::string path_for(int64_t step, int writer, const std::string& kind, bool copy) const;

  // Writes a part (whole or not at all). Of each series this process writes, the newest
  // steps are kept: three of a writer's own parts, two of a partner's copies (which lag by up
  // to one interval), so that with any one node lost a step stays whole. Throws Error naming
  // the file and the system's reason (a full disk).
  void write(int64_t step, int writer, const std::string& kind, bool copy,
             const std::vector<char>& bytes);
  // Records the last step this rank completed and the node-local interval in effect (the
  // steps between its last two saves, -1 before the second): a few bytes, overwritten in place.
  void record_reached(int rank, int64_t step, int64_t interval);
  // The newest step any rank of this node recorded (-1 if none), and the widest interval
  // any rank that saves recorded (in async mode the fastest rank is often a worker, which
  // saves nothing and knows no interval).
  struct Reached {
    int64_t step = -1, interval = -1;
    void merge(const Reached& r) {
      step = std::max(step, r.step);
      interval = std::max(interval, r.interval);
    }
  };
  Reached reached() const;
  // Bytes of this job's files on this node.
  std::uint64_t bytes_used() const;
  // Removes the job's directory on this node (the end of a finished job), and --local-
  // checkpoint-dir itself when it did not exist before the job and is left empty.
  void remove_all() const;

  // "tmpfs, 1024 MB free" for the directory (or the nearest existing parent).
  static std::string describe(const std::string& dir);

 private:
  static constexpr std::size_t kOwnKept = 3, kCopiesKept = 2;
  void prune(int writer, bool copy);

  std::string root_;
  bool dir_is_ours_ = false;
  std::map<std::pair<int, bool>, std::set<int64_t>> written_;  // (writer, copy) -> steps
  int reached_fd_ = -1;
};

}  // namespace dtrain::train
