#include "controller/api/rotation.h"

#include <cmath>

namespace rotor::api {

const std::vector<Phase>& allPhases() {
  static const std::vector<Phase> kAll = {
      Phase::kPending,  Phase::kIssuing,     Phase::kReady,      Phase::kStaging, Phase::kAwaitingAdoption,
      Phase::kSwapping, Phase::kVerifying,   Phase::kDraining,   Phase::kPruning, Phase::kPaused,
      Phase::kBlocked,  Phase::kRollingBack, Phase::kRolledBack, Phase::kFailed};
  return kAll;
}

std::string_view phaseName(Phase phase) {
  switch (phase) {
    case Phase::kPending:
      return "Pending";
    case Phase::kIssuing:
      return "Issuing";
    case Phase::kReady:
      return "Ready";
    case Phase::kStaging:
      return "Staging";
    case Phase::kAwaitingAdoption:
      return "AwaitingAdoption";
    case Phase::kSwapping:
      return "Swapping";
    case Phase::kVerifying:
      return "Verifying";
    case Phase::kDraining:
      return "Draining";
    case Phase::kPruning:
      return "Pruning";
    case Phase::kPaused:
      return "Paused";
    case Phase::kBlocked:
      return "Blocked";
    case Phase::kRollingBack:
      return "RollingBack";
    case Phase::kRolledBack:
      return "RolledBack";
    case Phase::kFailed:
      return "Failed";
  }
  return "Unknown";
}

StatusOr<Phase> parsePhase(std::string_view name) {
  for (Phase p : allPhases()) {
    if (phaseName(p) == name) {
      return p;
    }
  }
  return invalidArgument("unknown phase \"" + std::string(name) + "\"");
}

std::string_view adoptionModeName(AdoptionMode mode) { return mode == AdoptionMode::kManual ? "Manual" : "Measured"; }

StatusOr<AdoptionMode> parseAdoptionMode(std::string_view name) {
  if (name == "Measured") return AdoptionMode::kMeasured;
  if (name == "Manual") return AdoptionMode::kManual;
  return invalidArgument("must be Measured or Manual, got \"" + std::string(name) + "\"");
}

std::string_view keyRotationPolicyName(KeyRotationPolicy policy) {
  return policy == KeyRotationPolicy::kNever ? "Never" : "Always";
}

StatusOr<KeyRotationPolicy> parseKeyRotationPolicy(std::string_view name) {
  if (name == "Always") return KeyRotationPolicy::kAlways;
  if (name == "Never") return KeyRotationPolicy::kNever;
  return invalidArgument("must be Always or Never, got \"" + std::string(name) + "\"");
}

std::string_view timeoutActionName(TimeoutAction action) {
  return action == TimeoutAction::kProceed ? "Proceed" : "Block";
}

StatusOr<TimeoutAction> parseTimeoutAction(std::string_view name) {
  if (name == "Block") return TimeoutAction::kBlock;
  if (name == "Proceed") return TimeoutAction::kProceed;
  return invalidArgument("must be Block or Proceed, got \"" + std::string(name) + "\"");
}

const Condition* findCondition(const RotationStatus& status, std::string_view type) {
  for (const Condition& c : status.conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

std::string adoptionPercent(const AdoptionStatus& adoption) {
  if (adoption.active == 0) {
    return "";
  }
  // Floor, so that 99.6% never reads as a gate-opening 100%.
  return std::to_string(static_cast<int>(std::floor(adoption.ratio * 100 + 1e-9))) + "%";
}

std::optional<SystemTime> nextExpiry(const RotationStatus& status) {
  std::optional<SystemTime> earliest;
  auto consider = [&](const std::optional<SystemTime>& t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  if (status.ca.current) consider(status.ca.current->notAfter);
  for (const ServerStatus& server : status.servers) consider(server.notAfter);
  return earliest;
}

}  // namespace rotor::api
