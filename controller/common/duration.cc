#include "controller/common/duration.h"

#include <cmath>
#include <limits>

namespace rotor {
namespace {

struct Unit {
  std::string_view name;
  double milliseconds;
};

// Longest names first so that "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xC2\xB5s", 1e-3}, {"ms", 1.0},
                           {"s", 1e3},   {"m", 6e4},   {"h", 3.6e6}};

}  // namespace

StatusOr<Duration> parseDuration(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  if (text.empty()) {
    return invalidArgument("empty duration; use a number with a unit such as \"720h\" or \"90m\"");
  }
  if (text == "0") {
    return Duration{0};
  }
  double total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) {
      ++pos;
    }
    std::string number(text.substr(start, pos - start));
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) {
      return invalidArgument("invalid duration " + quoted +
                             ": expected a number followed by a unit (ns, us, ms, s, m, h)");
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(pos, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return invalidArgument("invalid duration " + quoted + ": missing or unknown unit after \"" + number +
                             "\" (use ns, us, ms, s, m or h)");
    }
    pos += unit->name.size();
    total += std::stod(number) * unit->milliseconds;
    if (total > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) {
      return invalidArgument("invalid duration " + quoted + ": too large");
    }
  }
  return Duration{static_cast<int64_t>(std::floor(total))};
}

std::string formatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<int64_t, const char*> parts[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : parts) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

}  // namespace rotor
