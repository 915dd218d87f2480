#pragma once

// Kubernetes' MicroTime (Lease acquire and renew times, an Event's eventTime): RFC 3339 in UTC
// with exactly six fractional digits, e.g. "2026-11-22T10:15:00.071509Z".

#include <optional>
#include <string>

#include "controller/common/clock.h"

namespace rotor::kube {

std::string formatMicroTime(SystemTime t);
/** What formatMicroTime writes, and RFC 3339 with fewer or more fractional digits (nanoseconds
 *  are cut to microseconds); nullopt for anything else. */
std::optional<SystemTime> parseMicroTime(const std::string& text);

}  // namespace rotor::kube
