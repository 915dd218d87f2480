#pragma once

// IANA time zones read from the system's tzdata (TZif files), for maintenance windows. g++ 12 has
// no std::chrono::locate_zone, and setenv("TZ") + localtime_r is process-global and racy.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace rotor {

/** Local wall-clock fields of an instant in some zone. */
struct CivilTime {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int weekday = 4;  // 0 = Sunday
};

/** A POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3"): how a zone behaves after its last listed
 *  transition. Only the M (month.week.day) form of the DST dates is supported, as tzdata emits. */
struct PosixRule {
  int32_t stdOffset = 0;  // seconds east of UTC
  int32_t dstOffset = 0;
  bool hasDst = false;
  struct When {
    int month = 0, week = 0, weekday = 0;
    int32_t time = 7200;  // seconds after local midnight
  } start, end;

  /** kInvalidArgument for forms it does not understand. */
  static StatusOr<PosixRule> parse(std::string_view text);
  int32_t offsetAt(int64_t unixSeconds) const;
};

class TimeZone {
public:
  static TimeZone utc();
  /** Loads `name` (e.g. "Europe/Paris") from $TZDIR or /usr/share/zoneinfo. kNotFound when the
   *  zone does not exist, kInvalidArgument when its file is not TZif. */
  static StatusOr<TimeZone> load(std::string_view name);
  /** Parses TZif bytes (versions 1-4). */
  static StatusOr<TimeZone> fromTzif(std::string name, std::string_view bytes);

  const std::string& name() const { return name_; }
  /** Seconds east of UTC in effect at `t`. */
  int32_t utcOffset(SystemTime t) const;
  CivilTime toCivil(SystemTime t) const;

private:
  std::string name_;
  std::vector<int64_t> transitions_;         // UTC seconds, ascending
  std::vector<int32_t> offsetAfter_;         // offset in effect from transitions_[i]
  int32_t initialOffset_ = 0;                // before the first transition
  std::shared_ptr<const PosixRule> footer_;  // after the last transition, when present
};

/** Civil (proleptic Gregorian) fields of a count of seconds since 1970-01-01T00:00:00. */
CivilTime civilFromUnix(int64_t unixSeconds);

}  // namespace rotor
