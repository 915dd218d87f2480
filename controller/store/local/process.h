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
 * A non-zero exit or a signal is kFailedPrecondition (the command said no: rotor's policy, such as
 * a rollback, decides what follows) quoting the last lines of its output (stdout and stderr, at
 * most 1 KiB); kUnavailable only when it could not be started (pipe, fork).
 */
Status runCommand(const std::vector<std::string>& argv, const std::filesystem::path& workingDirectory,
                  std::chrono::milliseconds timeout);

}  // namespace rotor::store::local
