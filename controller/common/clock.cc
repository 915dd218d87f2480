#include "controller/common/clock.h"

#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace rotor {
namespace {

std::tm toUtc(SystemTime t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

std::string formatTm(const std::tm& tm, const char* format) {
  char buffer[64];
  size_t n = std::strftime(buffer, sizeof(buffer), format, &tm);
  return std::string(buffer, n);
}

}  // namespace

SystemTime truncateToSeconds(SystemTime t) { return std::chrono::time_point_cast<std::chrono::seconds>(t); }

std::string formatRfc3339(SystemTime t) { return formatTm(toUtc(t), "%Y-%m-%dT%H:%M:%SZ"); }

std::string formatCompactUtc(SystemTime t) { return formatTm(toUtc(t), "%Y%m%d-%H%M%S"); }

bool parseRfc3339(const std::string& text, SystemTime& out) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second, &consumed) !=
          6 ||
      consumed != 19) {
    return false;
  }
  // SystemTime counts nanoseconds in 64 bits: it reaches from 1678 to 2262. Keep well inside.
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return false;
  }
  size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      ++pos;
    }
  }
  long offsetSeconds = 0;
  std::string zone = text.substr(pos);
  if (zone == "Z" || zone == "z") {
    offsetSeconds = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(zone.c_str() + 1, "%2d:%2d", &oh, &om) != 2) {
      return false;
    }
    offsetSeconds = (zone[0] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
  } else {
    return false;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t secs = timegm(&tm);
  out = std::chrono::system_clock::from_time_t(secs - offsetSeconds);
  return true;
}

bool sleepUnlessStopped(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex mu;
  std::condition_variable_any wake;
  std::unique_lock lock(mu);
  return !wake.wait_for(lock, stop, d, [&stop] { return stop.stop_requested(); });
}

}  // namespace rotor
