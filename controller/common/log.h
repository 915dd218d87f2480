#pragma once

// Structured logs, one line per event, Kubernetes message style ("Swapped server certificate").
// Never pass key material, PEM bodies or tokens as fields: fingerprints and names only.

#include <initializer_list>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "controller/common/clock.h"

namespace rotor {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

using LogField = std::pair<std::string_view, std::string>;

class Logger {
public:
  Logger(std::ostream& out, const Clock& clock, LogLevel level = LogLevel::kInfo, LogFormat format = LogFormat::kText)
      : out_(out), clock_(clock), level_(level), format_(format) {}

  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
  /** Whether `level` is written: hot paths check it before building their fields. */
  bool enabled(LogLevel level) const { return level >= level_; }
  void debug(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kDebug, m, f); }
  void info(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kInfo, m, f); }
  void warn(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kWarn, m, f); }
  void error(std::string_view m, std::initializer_list<LogField> f = {}) { log(LogLevel::kError, m, f); }

private:
  std::mutex mu_;
  std::ostream& out_;
  const Clock& clock_;
  LogLevel level_;
  LogFormat format_;
};

}  // namespace rotor
