#include "controller/kube/event_writer.h"

#include <cstdio>

namespace rotor::kube {

std::string formatMicroTime(SystemTime t) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::string text = formatRfc3339(t);  // "...:SSZ"
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%06lld", static_cast<long long>(micros < 0 ? micros + 1000000 : micros));
  text.insert(text.size() - 1, fraction);
  return text;
}

json EventWriter::eventFor(const api::CertificateRotation& about, bool warning, const std::string& action,
                           const std::string& reason, const std::string& note) const {
  const SystemTime now = clock_.now();
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()));
  // The API server refuses notes over 1 KiB.
  const std::string shortNote = note.size() > 1024 ? note.substr(0, 1021) + "..." : note;
  return {{"apiVersion", "events.k8s.io/v1"},
          {"kind", "Event"},
          {"metadata", {{"name", about.metadata.name + suffix}, {"namespace", about.metadata.ns}}},
          {"eventTime", formatMicroTime(now)},
          {"reportingController", kReportingController},
          {"reportingInstance", instance_},
          {"action", action},
          {"reason", reason},
          {"note", shortNote},
          {"type", warning ? "Warning" : "Normal"},
          {"regarding",
           {{"apiVersion", api::kApiVersion},
            {"kind", api::kKind},
            {"name", about.metadata.name},
            {"namespace", about.metadata.ns},
            {"uid", about.metadata.uid},
            {"resourceVersion", about.metadata.resourceVersion}}}};
}

Status EventWriter::write(const api::CertificateRotation& about, bool warning, const std::string& action,
                          const std::string& reason, const std::string& note) {
  return client_.create(kEvents, about.metadata.ns, eventFor(about, warning, action, reason, note)).status();
}

}  // namespace rotor::kube
