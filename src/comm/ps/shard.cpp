#include "comm/ps/shard.h"

namespace dtrain::comm {

std::vector<nn::ParamRange> split_parameters(std::size_t total, int shards) {
  constexpr std::size_t kAlign = nn::ParameterLayout::kAlignFloats;
  std::vector<nn::ParamRange> out;
  std::size_t begin = 0;
  for (int s = 0; s < shards; ++s) {
    std::size_t end = total * static_cast<std::size_t>(s + 1) / static_cast<std::size_t>(shards);
    end = s + 1 == shards ? total : std::min(total, (end + kAlign / 2) / kAlign * kAlign);
    end = std::max(end, begin);
    out.push_back({begin, end});
    begin = end;
  }
  return out;
}

}  // namespace dtrain::comm
