#pragma once

// Writes events.k8s.io/v1 Events about rotations: what `kubectl describe certrot` and
// `kubectl events` show. An event that cannot be written is reported to the caller and dropped:
// events are for people and never hold up a rotation.

#include "controller/api/rotation.h"
#include "controller/kube/client.h"

namespace rotor::kube {

/** The controller named in every event's reportingController. */
inline constexpr std::string_view kReportingController = "rotor.dev/rotor-controller";

class EventWriter {
public:
  EventWriter(Client& client, const Clock& clock, std::string instance)
      : client_(client), clock_(clock), instance_(std::move(instance)) {}

  /** `action` is what rotor was doing ("Reconcile"); `reason` UpperCamelCase; `note` for people. */
  Status write(const api::CertificateRotation& about, bool warning, const std::string& action,
               const std::string& reason, const std::string& note);

  /** The Event object write() sends (its name is unique per rotation and instant). */
  json eventFor(const api::CertificateRotation& about, bool warning, const std::string& action,
                const std::string& reason, const std::string& note) const;

private:
  Client& client_;
  const Clock& clock_;
  std::string instance_;
};

}  // namespace rotor::kube
