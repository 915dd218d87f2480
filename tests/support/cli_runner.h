#pragma once

// Runs the rotor command line in process, as `program` (argv[0]) with `args`, and captures it.

#include <sstream>
#include <string>
#include <vector>

#include "controller/cli/commands.h"

namespace rotor::testing {

struct CliResult {
  int code;
  std::string out;
  std::string err;
};

inline CliResult runCli(const std::string& program, std::vector<std::string> args, const std::string& stdinText = "") {
  args.insert(args.begin(), program);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::istringstream in(stdinText);
  std::ostringstream out, err;
  const int code = cli::run(static_cast<int>(argv.size()), argv.data(), in, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace rotor::testing
