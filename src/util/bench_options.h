// The command line of the benchmark programs (compute_bench, data_bench, rma_bench): named
// string options with defaults, --help (what help2man reads) and --version, on
// Boost.Program_options as mnist_train's is. A misspelt option makes parse() print a message
// and return 2; a value that is not a number throws dtrain::Error naming the option, which the
// programs print and exit 2 with, as mnist_train's start-up checks do.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>

namespace dtrain {

class BenchOptions {
 public:
  // `usage`: the synopsis and what the program measures, shown by --help.
  BenchOptions(std::string program, std::string usage);

  // "--name" with its default and a line of help.
  BenchOptions& add(const std::string& name, const std::string& fallback, const std::string& help);

  // The exit code to return at once (0 after --help or --version, 2 after a message on a bad
  // command line), or nothing: go on and read the values.
  std::optional<int> parse(int argc, char** argv);

  std::string text(const std::string& name) const;
  long long integer(const std::string& name) const;  // throws Error if not a number
  double number(const std::string& name) const;

 private:
  [[noreturn]] void refuse(const std::string& name, const std::string& expected) const;

  std::string program_, usage_;
  boost::program_options::options_description options_;
  boost::program_options::variables_map values_;
};

}  // namespace dtrain
