#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor {

using Duration = std::chrono::milliseconds;

/**
 * Parses a Kubernetes (Go) duration: a sequence of decimal numbers with units, such as "720h",
 * "90m", "1h30m", "1.5s", "250ms". Units: ns, us, µs, ms, s, m, h. No sign; "0" alone is allowed.
 * Precision below a millisecond is truncated. kInvalidArgument explains what is wrong.
 */
StatusOr<Duration> parseDuration(std::string_view text);

/** The shortest form parseDuration reads back exactly: "720h", "1h30m", "1s500ms", "0s". */
std::string formatDuration(Duration d);

}  // namespace rotor
