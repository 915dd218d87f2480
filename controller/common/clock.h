#pragma once

#include <chrono>
#include <stop_token>
#include <string>

namespace rotor {

using SystemTime = std::chrono::system_clock::time_point;
using MonotonicTime = std::chrono::steady_clock::time_point;
using Seconds = std::chrono::seconds;

/** The only source of time. Reconcilers and the PKI see time through it, so tests control it. */
class Clock {
public:
  virtual ~Clock() = default;
  /** Wall time: certificate validity, status timestamps. */
  virtual SystemTime now() const = 0;
  /** Monotonic time: backoff, queue delays, timeouts. */
  virtual MonotonicTime monotonicNow() const = 0;
};

class RealClock final : public Clock {
public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
  MonotonicTime monotonicNow() const override { return std::chrono::steady_clock::now(); }
};

/** Truncates to whole seconds: status timestamps are stored at that precision. */
SystemTime truncateToSeconds(SystemTime t);

/** RFC 3339 UTC with a 'Z' suffix and whole seconds ("2026-11-22T10:15:00Z"). */
std::string formatRfc3339(SystemTime t);
/** Parses what formatRfc3339 writes; also accepts fractional seconds and numeric offsets. Years
 *  1970 to 2200 only: SystemTime cannot hold much more. */
bool parseRfc3339(const std::string& text, SystemTime& out);
/** Compact UTC stamp for file and directory names ("20261122-101500"). */
std::string formatCompactUtc(SystemTime t);

/** Sleeps for `d` or until `stop` is requested, whichever comes first; false when stopped. For
 *  background loops that must end promptly on shutdown. */
bool sleepUnlessStopped(std::stop_token stop, std::chrono::milliseconds d);

}  // namespace rotor
