// CheckpointPart: what one rank alone holds at a step, as one self-checking file of the
// node-local checkpoint level (--local-checkpoint-dir). A step's parts together are the whole
// training state (assemble()), whatever layout wrote them:
//   sync    each node's first rank: the parameters and the step's facts; with the sharded
//           optimizer each rank its pieces of the optimizer state (else the node's first rank
//           all of it)
//   async   each parameter server: its shard's weights, optimizer state and counters; the
//           chief: the step's facts with every worker's step
//
// File: "DTRAINLP" | u32 header length | header (JSON: format, job fingerprint, step, writer
// rank, total floats, the facts, server counters, and per array its name and flat ranges) |
// the arrays' floats, each array's ranges back to back | u32 CRC-32C of everything before it.
// decode() checks all of it and throws DataError naming the file for anything else: a torn
// file, another job's, another format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dtrain/nn/parameter_layout.h"
#include "dtrain/train/checkpoint.h"

namespace dtrain::train {

struct PartArray {
  std::string name;  // "params", or the optimizer state's name ("m", "v", "velocity")
  std::vector<nn::ParamRange> ranges;
  std::vector<float> values;  // the ranges' values back to back
};

struct CheckpointPart {
  std::string fingerprint;  // the job (local_fingerprint())
  std::string run;          // the run that wrote it: a step's parts come from one run
  int64_t step = 0;
  int writer = 0;         // the rank that wrote it, in the layout that wrote it
  std::size_t total = 0;  // floats of each flat buffer
  // The step's facts (a TrainingState without its arrays), in the parts that carry them.
  std::optional<TrainingState> facts;
  std::vector<ServerCounters> servers;  // async: the writing server's counters
  std::vector<PartArray> arrays;

  std::size_t floats() const;
};

// The identity of a job's local checkpoints: the model, its input, the optimizer, the seed and
// the parallel file system's --model-dir (which names the job). A relaunch with another rank
// count or layout has the same one.
std::string local_fingerprint(const TrainingState& facts, const std::string& model_dir);

std::vector<char> encode(const CheckpointPart& part);
// `what` names the bytes in errors (the file's path).
CheckpointPart decode(const char* data, std::size_t size, const std::string& what);
// The header alone (a part without its values), as text and back: what ranks tell each other
// about the parts their node holds.
std::string header_text(const CheckpointPart& part);
CheckpointPart from_header_text(const std::string& text, const std::string& what);

// What a set of parts (headers suffice) lacks to be a whole step: "" when nothing.
std::string missing_from(const std::vector<const CheckpointPart*>& parts);
// The whole training state from a step's parts (own copies, partner copies, duplicates
// allowed), or nullopt with `missing` saying what no part holds.
std::optional<TrainingState> assemble(const std::vector<CheckpointPart>& parts,
                                      std::string* missing);

}  // namespace dtrain::train
