// libFuzzer target: the IDX parser on arbitrary bytes (succeeds or throws DataError).
#include <cstdint>

#include "data/idx.h"
#include "dtrain/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = dtrain::data::parse_idx({data, size}, "fuzz");
    std::uint64_t n = 1;
    for (auto d : a.dims) n *= d;
    if (n != a.values.size()) __builtin_trap();  // the parser's own size check must hold
  } catch (const dtrain::DataError&) {
  }
  return 0;
}
