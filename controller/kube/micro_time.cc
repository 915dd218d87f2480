#include "controller/kube/micro_time.h"

#include <cctype>
#include <cstdio>

namespace rotor::kube {

std::string formatMicroTime(SystemTime t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - seconds).count();
  std::string text = formatRfc3339(seconds);  // "...SSZ"
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%06d", static_cast<int>(micros));
  return text.insert(text.size() - 1, fraction);
}

// parseRfc3339 keeps whole seconds; the fraction is added here.
std::optional<SystemTime> parseMicroTime(const std::string& text) {
  SystemTime whole;
  if (!parseRfc3339(text, whole)) return std::nullopt;
  const size_t dot = text.find('.');
  if (dot == std::string::npos) return whole;
  long long micros = 0;
  int digits = 0;
  for (size_t i = dot + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 6; ++i) {
    micros = micros * 10 + (text[i] - '0');
    ++digits;
  }
  for (; digits < 6; ++digits) micros *= 10;
  return whole + std::chrono::microseconds(micros);
}

}  // namespace rotor::kube
