#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor::api {

/**
 * A 5-field cron schedule (minute hour day-of-month month day-of-week) with lists, ranges,
 * steps, names (jan..dec, sun..sat; 7 is Sunday too) and the macros @yearly @annually @monthly
 * @weekly @daily @midnight @hourly. Day-of-month and day-of-week combine as in Vixie cron: when
 * both are restricted, either may match.
 */
class CronSchedule {
public:
  /** kInvalidArgument names the field and the reason ("hour: 24 is outside 0-23"). */
  static StatusOr<CronSchedule> parse(std::string_view text);

  /** Whether a local wall-clock minute matches. `weekday` is 0 (Sunday) to 6, `month` 1 to 12. */
  bool matches(int minute, int hour, int dayOfMonth, int month, int weekday) const;

private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> daysOfMonth_;
  std::bitset<13> months_;
  std::bitset<8> weekdays_;
  bool domRestricted_ = false;
  bool dowRestricted_ = false;
};

}  // namespace rotor::api
