// The value after `name` on a command line (e.g. "--steps 20"), or `fallback`. For the small
// benchmark and test programs; mnist_train and mnist_data_setup use Boost.Program_options.
#pragma once

#include <string>

namespace dtrain {

inline std::string arg_value(int argc, char** argv, const std::string& name,
                             const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}

}  // namespace dtrain
