#include "controller/common/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rotor {
namespace {

int64_t daysFromCivil(int64_t y, int m, int d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int daysInMonth(int64_t year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

/** Unix seconds of local midnight (in "local" seconds, offset not applied) of the rule's day. */
int64_t ruleDayStart(int64_t year, const PosixRule::When& w) {
  const int64_t first = daysFromCivil(year, w.month, 1);
  const int firstWeekday = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  int day = 1 + (w.weekday - firstWeekday + 7) % 7 + (w.week - 1) * 7;
  while (day > daysInMonth(year, w.month)) {
    day -= 7;  // week 5 means "the last"
  }
  return (first + day - 1) * 86400;
}

class Cursor {
public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return pos_ >= text_.size(); }
  char peek() const { return done() ? '\0' : text_[pos_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  bool name(std::string& out) {
    const size_t start = pos_;
    if (take('<')) {
      while (!done() && peek() != '>') ++pos_;
      if (!take('>')) return false;
    } else {
      while (!done() && std::isalpha(static_cast<unsigned char>(peek()))) ++pos_;
    }
    out = std::string(text_.substr(start, pos_ - start));
    return out.size() >= 3;
  }
  bool number(int& out) {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) return false;
    out = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) out = out * 10 + (text_[pos_++] - '0');
    return true;
  }
  /** [+-]hh[:mm[:ss]] as seconds. */
  bool clock(int32_t& out) {
    const int sign = take('-') ? -1 : (take('+'), 1);
    int h = 0, m = 0, s = 0;
    if (!number(h)) return false;
    if (take(':') && !number(m)) return false;
    if (take(':') && !number(s)) return false;
    out = sign * (h * 3600 + m * 60 + s);
    return true;
  }

private:
  std::string_view text_;
  size_t pos_ = 0;
};

bool parseWhen(Cursor& c, PosixRule::When& w) {
  if (!c.take('M') || !c.number(w.month) || !c.take('.') || !c.number(w.week) || !c.take('.') || !c.number(w.weekday)) {
    return false;
  }
  if (w.month < 1 || w.month > 12 || w.week < 1 || w.week > 5 || w.weekday > 6) {
    return false;
  }
  return !c.take('/') || c.clock(w.time);
}

uint32_t be32(std::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) | (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(b[at + 3])};
}
int64_t be64(std::string_view b, size_t at) {
  return static_cast<int64_t>((uint64_t{be32(b, at)} << 32) | be32(b, at + 4));
}

}  // namespace

CivilTime civilFromUnix(int64_t t) {
  int64_t days = t / 86400;
  int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  CivilTime c;
  c.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  c.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  c.year = static_cast<int>(yoe + era * 400 + (c.month <= 2));
  c.hour = static_cast<int>(secs / 3600);
  c.minute = static_cast<int>(secs / 60 % 60);
  c.second = static_cast<int>(secs % 60);
  c.weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);
  return c;
}

StatusOr<PosixRule> PosixRule::parse(std::string_view text) {
  const auto bad = [&] { return invalidArgument("unsupported POSIX TZ rule \"" + std::string(text) + "\""); };
  Cursor c(text);
  PosixRule rule;
  std::string name;
  int32_t west = 0;
  if (!c.name(name) || !c.clock(west)) return bad();
  rule.stdOffset = -west;  // POSIX offsets count hours west of Greenwich
  if (c.done()) return rule;
  if (!c.name(name)) return bad();
  rule.hasDst = true;
  rule.dstOffset = rule.stdOffset + 3600;
  if (c.peek() != ',') {
    if (!c.clock(west)) return bad();
    rule.dstOffset = -west;
  }
  if (!c.take(',') || !parseWhen(c, rule.start) || !c.take(',') || !parseWhen(c, rule.end) || !c.done()) {
    return bad();
  }
  return rule;
}

int32_t PosixRule::offsetAt(int64_t t) const {
  if (!hasDst) return stdOffset;
  const int year = civilFromUnix(t + stdOffset).year;
  // Start is given in standard local time, end in daylight local time.
  const int64_t dstStart = ruleDayStart(year, start) + start.time - stdOffset;
  const int64_t dstEnd = ruleDayStart(year, end) + end.time - dstOffset;
  const bool inDst = dstStart < dstEnd ? (t >= dstStart && t < dstEnd) : !(t >= dstEnd && t < dstStart);
  return inDst ? dstOffset : stdOffset;
}

TimeZone TimeZone::utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

StatusOr<TimeZone> TimeZone::load(std::string_view name) {
  if (name == "UTC" || name == "Etc/UTC") return utc();
  // A name, never a path: no absolute paths, no "..", only the characters IANA names use.
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-") !=
          std::string_view::npos) {
    return invalidArgument("invalid time zone name \"" + std::string(name) + "\"");
  }
  const char* dir = std::getenv("TZDIR");
  const std::filesystem::path path = std::filesystem::path(dir != nullptr ? dir : "/usr/share/zoneinfo") / name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return notFound("unknown time zone \"" + std::string(name) + "\" (no " + path.string() + ")");
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  return fromTzif(std::string(name), bytes.str());
}

StatusOr<TimeZone> TimeZone::fromTzif(std::string name, std::string_view b) {
  const auto bad = [&](const std::string& why) {
    return invalidArgument("time zone \"" + name + "\" is not a valid TZif file: " + why);
  };
  constexpr size_t kHeader = 44;
  if (b.size() < kHeader || b.substr(0, 4) != "TZif") return bad("no TZif header");
  const char version = b[4];
  struct Counts {
    size_t isut, isstd, leap, time, type, chars;
  };
  const auto countsAt = [&](size_t at) {
    return Counts{be32(b, at + 20), be32(b, at + 24), be32(b, at + 28),
                  be32(b, at + 32), be32(b, at + 36), be32(b, at + 40)};
  };
  const auto blockSize = [](const Counts& c, size_t timeSize) {
    return c.time * timeSize + c.time + c.type * 6 + c.chars + c.leap * (timeSize + 4) + c.isstd + c.isut;
  };
  size_t at = 0;
  Counts c = countsAt(at);
  size_t timeSize = 4;
  if (version >= '2') {
    at = kHeader + blockSize(c, 4);  // skip the 32-bit block; the 64-bit one follows
    if (b.size() < at + kHeader || b.substr(at, 4) != "TZif") return bad("no second header");
    c = countsAt(at);
    timeSize = 8;
  }
  const size_t data = at + kHeader;
  if (c.type == 0 || b.size() < data + blockSize(c, timeSize)) return bad("truncated");
  TimeZone z;
  z.name_ = std::move(name);
  const size_t types = data + c.time * timeSize + c.time;
  const auto offsetOfType = [&](size_t type) { return static_cast<int32_t>(be32(b, types + type * 6)); };
  for (size_t i = 0; i < c.time; ++i) {
    const size_t type = static_cast<uint8_t>(b[data + c.time * timeSize + i]);
    if (type >= c.type) return bad("transition names type " + std::to_string(type));
    z.transitions_.push_back(timeSize == 8 ? be64(b, data + i * 8) : static_cast<int32_t>(be32(b, data + i * 4)));
    z.offsetAfter_.push_back(offsetOfType(type));
  }
  z.initialOffset_ = offsetOfType(0);
  if (version >= '2') {
    const size_t footer = data + blockSize(c, timeSize);
    const size_t open = b.find('\n', footer);
    const size_t close = open == std::string_view::npos ? open : b.find('\n', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      auto rule = PosixRule::parse(b.substr(open + 1, close - open - 1));
      if (rule.ok()) z.footer_ = std::make_shared<const PosixRule>(*rule);
    }
  }
  return z;
}

int32_t TimeZone::utcOffset(SystemTime t) const {
  const int64_t s = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  if (transitions_.empty() || s >= transitions_.back()) {
    if (footer_) return footer_->offsetAt(s);
    return transitions_.empty() ? initialOffset_ : offsetAfter_.back();
  }
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initialOffset_;
  return offsetAfter_[static_cast<size_t>(it - transitions_.begin() - 1)];
}

CivilTime TimeZone::toCivil(SystemTime t) const {
  const int64_t s = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  return civilFromUnix(s + utcOffset(t));
}

}  // namespace rotor
