#include "util/bench_options.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "dtrain/util/error.h"
#include "util/version.h"

namespace dtrain {

namespace po = boost::program_options;

BenchOptions::BenchOptions(std::string program, std::string usage)
    : program_(std::move(program)), usage_(std::move(usage)), options_("Options") {
  options_.add_options()("help", "print this help and exit")(
      "version", "print the versions of dtrain and the libraries it runs on, and exit");
}

BenchOptions& BenchOptions::add(const std::string& name, const std::string& fallback,
                                const std::string& help) {
  options_.add_options()(name.substr(2).c_str(), po::value<std::string>()->default_value(fallback),
                         help.c_str());
  return *this;
}

std::optional<int> BenchOptions::parse(int argc, char** argv) {
  try {
    po::store(po::parse_command_line(argc, argv, options_), values_);
    po::notify(values_);
  } catch (const po::error& e) {
    std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program_.c_str(), e.what(),
                 program_.c_str());
    return 2;
  }
  if (values_.count("help")) {
    std::cout << "Usage: " << usage_ << "\n\n" << options_ << "\n";
    return 0;
  }
  if (values_.count("version")) {
    std::cout << version_text(program_);
    return 0;
  }
  return std::nullopt;
}

std::string BenchOptions::text(const std::string& name) const {
  return values_[name.substr(2)].as<std::string>();
}

long long BenchOptions::integer(const std::string& name) const {
  const std::string v = text(name);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0') refuse(name, "an integer");
  return n;
}

double BenchOptions::number(const std::string& name) const {
  const std::string v = text(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') refuse(name, "a number");
  return x;
}

void BenchOptions::refuse(const std::string& name, const std::string& expected) const {
  throw OptionError(name + " " + text(name) + ": expected " + expected);
}

}  // namespace dtrain
