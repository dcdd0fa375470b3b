// Small text helpers for messages.
#pragma once

#include <string>
#include <vector>

namespace dtrain {

// "[1,28,28]" from a list of numbers: shapes and dimensions in error messages and logs.
template <typename T>
std::string bracketed(const std::vector<T>& values) {
  std::string s = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(values[i]);
  }
  return s + "]";
}

}  // namespace dtrain
