// Errors raised by the library. Each carries enough context (file, option, rank, offset) that
// main() can print one line a user can act on; nothing deep in the library calls exit().
#pragma once

#include <stdexcept>
#include <string>

namespace dtrain {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad command-line or config input: the message names the option and what is allowed.
class OptionError : public Error {
 public:
  using Error::Error;
};

// Bad or unreadable data file: the message names the file and, where known, the byte offset.
class DataError : public Error {
 public:
  using Error::Error;
};

// A job that refused to start: every rank of the job throws it, with the same message, after
// the ranks agreed on a verdict (main prints it once and every rank exits 2).
class StartupError : public Error {
 public:
  using Error::Error;
};

}  // namespace dtrain
