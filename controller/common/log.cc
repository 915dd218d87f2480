#include "controller/common/log.h"

#include "controller/common/strings.h"

namespace rotor {
namespace {

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

/** JSON string escaping (also used for text values that need quoting). */
std::string jsonQuoted(std::string_view text) {
  const std::string s = validUtf8(text);  // a JSON line must be UTF-8, whatever a client sent
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* kHex = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

bool needsQuotes(std::string_view s) { return s.empty() || s.find_first_of(" \"=\n\t\\") != std::string_view::npos; }

}  // namespace

void Logger::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (level < level_) return;
  std::string line;
  const std::string ts = formatRfc3339(clock_.now());
  if (format_ == LogFormat::kJson) {
    line = "{\"ts\":" + jsonQuoted(ts) + ",\"level\":\"" + levelName(level) + "\",\"msg\":" + jsonQuoted(message);
    for (const auto& [k, v] : fields) line += "," + jsonQuoted(k) + ":" + jsonQuoted(v);
    line += "}";
  } else {
    line = ts + " " + levelName(level) + " " + jsonQuoted(message);
    for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + (needsQuotes(v) ? jsonQuoted(v) : v);
  }
  std::lock_guard lock(mu_);
  out_ << line << '\n' << std::flush;
}

}  // namespace rotor
