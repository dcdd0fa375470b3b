// How the flat parameter vector is split over K parameter servers: K contiguous ranges,
// balanced by bytes (tensor boundaries do not matter: a shard is a plain range of floats), each
// starting on a 64-byte boundary.
#pragma once

#include <cstddef>
#include <vector>

#include "dtrain/nn/parameter_layout.h"

namespace dtrain::comm {

std::vector<nn::ParamRange> split_parameters(std::size_t total_floats, int shards);

}  // namespace dtrain::comm
