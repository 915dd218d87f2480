#include "controller/api/cron.h"

#include <array>
#include <vector>

#include "controller/common/strings.h"

namespace rotor::api {
namespace {

struct FieldSpec {
  const char* name;
  int min;
  int max;
  std::vector<std::string_view> names;  // names[i] stands for min + i
};

const std::array<FieldSpec, 5> kFields = {{
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
    {"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}};

StatusOr<int> parseValue(const FieldSpec& f, std::string_view text) {
  std::string lower = toLower(text);
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (lower == f.names[i]) {
      return f.min + static_cast<int>(i);
    }
  }
  if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return invalidArgument(std::string(f.name) + ": \"" + std::string(text) + "\" is not a number");
  }
  int value = std::stoi(std::string(text));
  if (value < f.min || value > f.max) {
    return invalidArgument(std::string(f.name) + ": " + std::to_string(value) + " is outside " + std::to_string(f.min) +
                           "-" + std::to_string(f.max));
  }
  return value;
}

/** Parses one field into a list of allowed values. */
StatusOr<std::vector<int>> parseField(const FieldSpec& f, std::string_view text) {
  std::vector<int> out;
  for (const std::string& part : split(text, ',')) {
    std::string_view range = part;
    int step = 1;
    if (size_t slash = range.find('/'); slash != std::string_view::npos) {
      std::string stepText(range.substr(slash + 1));
      if (stepText.empty() || stepText.find_first_not_of("0123456789") != std::string::npos || stepText.size() > 3 ||
          std::stoi(stepText) == 0) {
        return invalidArgument(std::string(f.name) + ": step \"" + stepText + "\" must be a positive number");
      }
      step = std::stoi(stepText);
      range = range.substr(0, slash);
    }
    int low = f.min, high = f.max;
    if (range != "*") {
      size_t dash = range.find('-');
      ASSIGN_OR_RETURN(low, parseValue(f, range.substr(0, dash)));
      high = low;
      if (dash != std::string_view::npos) {
        ASSIGN_OR_RETURN(high, parseValue(f, range.substr(dash + 1)));
      } else if (step != 1) {
        high = f.max;  // "5/15" means from 5 to the end, every 15
      }
      if (high < low) {
        return invalidArgument(std::string(f.name) + ": range \"" + std::string(range) + "\" runs backwards");
      }
    }
    for (int v = low; v <= high; v += step) {
      out.push_back(v);
    }
  }
  return out;
}

std::string_view expandMacro(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return text;
}

}  // namespace

StatusOr<CronSchedule> CronSchedule::parse(std::string_view input) {
  std::string_view text = expandMacro(trim(input));
  if (!text.empty() && text.front() == '@') {
    return invalidArgument("unknown macro \"" + std::string(text) +
                           "\" (use @yearly, @monthly, @weekly, @daily or @hourly)");
  }
  std::vector<std::string> fields;
  for (const std::string& f : split(text, ' ')) {
    if (!f.empty()) {
      fields.push_back(f);
    }
  }
  if (fields.size() != 5) {
    return invalidArgument("expected 5 fields (minute hour day-of-month month day-of-week), got " +
                           std::to_string(fields.size()));
  }
  CronSchedule s;
  for (size_t i = 0; i < 5; ++i) {
    ASSIGN_OR_RETURN(std::vector<int> values, parseField(kFields[i], fields[i]));
    for (int v : values) {
      switch (i) {
        case 0:
          s.minutes_.set(static_cast<size_t>(v));
          break;
        case 1:
          s.hours_.set(static_cast<size_t>(v));
          break;
        case 2:
          s.daysOfMonth_.set(static_cast<size_t>(v));
          break;
        case 3:
          s.months_.set(static_cast<size_t>(v));
          break;
        case 4:
          s.weekdays_.set(static_cast<size_t>(v == 7 ? 0 : v));
          break;
      }
    }
  }
  s.domRestricted_ = fields[2] != "*";
  s.dowRestricted_ = fields[4] != "*";
  return s;
}

bool CronSchedule::matches(int minute, int hour, int dayOfMonth, int month, int weekday) const {
  if (!minutes_.test(static_cast<size_t>(minute)) || !hours_.test(static_cast<size_t>(hour)) ||
      !months_.test(static_cast<size_t>(month))) {
    return false;
  }
  bool dom = daysOfMonth_.test(static_cast<size_t>(dayOfMonth));
  bool dow = weekdays_.test(static_cast<size_t>(weekday));
  if (domRestricted_ && dowRestricted_) {
    return dom || dow;
  }
  return dom && dow;
}

}  // namespace rotor::api
