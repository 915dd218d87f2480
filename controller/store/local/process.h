#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "controller/common/status.h"

namespace rotor::store::local {

/**
 * Runs argv[0] (looked up in PATH) with its arguments in `workingDirectory`, and waits at most
 * `timeout`. On timeout the whole process group is killed and the result is kDeadlineExceeded.
 * A non-zero exit or a signal is kUnavailable quoting the last lines of its output (stdout and
 * stderr, at most 1 KiB).
 */
Status runCommand(const std::vector<std::string>& argv, const std::filesystem::path& workingDirectory,
                  std::chrono::milliseconds timeout);

}  // namespace rotor::store::local
