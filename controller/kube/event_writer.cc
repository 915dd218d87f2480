#include "controller/kube/event_writer.h"

#include <cstdio>

#include "controller/kube/micro_time.h"

namespace rotor::kube {

json EventWriter::eventFor(const api::CertificateRotation& about, bool warning, const std::string& action,
                           const std::string& reason, const std::string& note) const {
  const SystemTime now = clock_.now();
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()));
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
