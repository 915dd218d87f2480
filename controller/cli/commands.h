#pragma once

#include <iosfwd>

namespace rotor::cli {

/**
 * Runs one rotor command line. Output goes to `out`, errors to `err` (one line, "error: ...",
 * never key material). Returns the process exit code: 0 on success, 1 when the command failed,
 * 2 for a usage error.
 */
int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace rotor::cli
