#include "controller/cli/output.h"

#include <algorithm>

namespace rotor::cli {
namespace {

std::string adoptionColumn(const api::RotationStatus& s) {
  std::string percent = api::adoptionPercent(s.adoption);
  return percent.empty() ? "-" : percent;
}

std::string nextExpiryColumn(const api::RotationStatus& s) {
  std::optional<SystemTime> earliest = api::nextExpiry(s);
  return earliest ? formatRfc3339(*earliest) : "-";
}

}  // namespace

std::string formatAge(Duration age) {
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(age).count();
  if (secs < 0) secs = 0;
  if (secs < 120) return std::to_string(secs) + "s";
  if (secs < 2 * 3600) return std::to_string(secs / 60) + "m";
  if (secs < 2 * 86400) return std::to_string(secs / 3600) + "h";
  return std::to_string(secs / 86400) + "d";
}

std::string formatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.empty() ? 0 : rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string formatRotationTable(const std::vector<api::CertificateRotation>& rotations, SystemTime now) {
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "NAME", "PHASE", "REVISION", "ADOPTION", "NEXT-EXPIRY", "AGE"}};
  for (const api::CertificateRotation& r : rotations) {
    std::string age = r.metadata.creationTimestamp
                          ? formatAge(std::chrono::duration_cast<Duration>(now - *r.metadata.creationTimestamp))
                          : "-";
    rows.push_back({r.metadata.ns, r.metadata.name, std::string(api::phaseName(r.status.phase)),
                    std::to_string(r.status.revision), adoptionColumn(r.status), nextExpiryColumn(r.status), age});
  }
  return formatTable(rows);
}

}  // namespace rotor::cli
