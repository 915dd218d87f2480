#include "controller/api/rotation.h"

#include <array>
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

namespace {

/** The spec's two-valued enumerations, named in the order of their values. */
constexpr std::array<std::string_view, 2> kAdoptionModeNames = {"Measured", "Manual"};
constexpr std::array<std::string_view, 2> kKeyRotationPolicyNames = {"Always", "Never"};
constexpr std::array<std::string_view, 2> kTimeoutActionNames = {"Block", "Proceed"};

template <typename Enum>
StatusOr<Enum> parseNamed(std::string_view name, const std::array<std::string_view, 2>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return invalidArgument("must be " + std::string(names[0]) + " or " + std::string(names[1]) + ", got \"" +
                         std::string(name) + "\"");
}

}  // namespace

std::string_view adoptionModeName(AdoptionMode mode) { return kAdoptionModeNames.at(static_cast<size_t>(mode)); }
StatusOr<AdoptionMode> parseAdoptionMode(std::string_view name) {
  return parseNamed<AdoptionMode>(name, kAdoptionModeNames);
}

std::string_view keyRotationPolicyName(KeyRotationPolicy policy) {
  return kKeyRotationPolicyNames.at(static_cast<size_t>(policy));
}
StatusOr<KeyRotationPolicy> parseKeyRotationPolicy(std::string_view name) {
  return parseNamed<KeyRotationPolicy>(name, kKeyRotationPolicyNames);
}

constexpr std::array<std::string_view, 2> kCaSourceChangeNames = {"Ignore", "Rotate"};
std::string_view caSourceChangeName(CaSourceChange change) {
  return kCaSourceChangeNames.at(static_cast<size_t>(change));
}
StatusOr<CaSourceChange> parseCaSourceChange(std::string_view name) {
  return parseNamed<CaSourceChange>(name, kCaSourceChangeNames);
}

std::string_view timeoutActionName(TimeoutAction action) { return kTimeoutActionNames.at(static_cast<size_t>(action)); }
StatusOr<TimeoutAction> parseTimeoutAction(std::string_view name) {
  return parseNamed<TimeoutAction>(name, kTimeoutActionNames);
}

const Condition* findCondition(const RotationStatus& status, std::string_view type) {
  for (const Condition& c : status.conditions) {
    if (c.type == type) {
      return &c;
    }
  }
  return nullptr;
}

bool copiesComplete(const BundleCopiesStatus& copies) {
  const auto& ctb = copies.clusterTrustBundle;
  return copies.current == copies.wanted && (!ctb || ctb->current || ctb->foreign);
}

const std::string& bundleObjectName(const TrustBundleSpec& spec) {
  return spec.secretName.empty() ? spec.configMapName : spec.secretName;
}

std::string_view bundleObjectKind(const TrustBundleSpec& spec) {
  return spec.secretName.empty() ? "ConfigMap" : "Secret";
}

std::string labelSelectorQuery(const LabelSelector& selector) {
  std::string out;
  const auto next = [&]() -> std::string& { return out.empty() ? out : out += ','; };
  for (const auto& [key, value] : selector.matchLabels) next() += key + "=" + value;
  for (const LabelSelectorRequirement& e : selector.matchExpressions) {
    std::string& to = next();
    if (e.op == "Exists") {
      to += e.key;
    } else if (e.op == "DoesNotExist") {
      to += "!" + e.key;
    } else {
      to += e.key + (e.op == "NotIn" ? " notin (" : " in (");
      for (size_t i = 0; i < e.values.size(); ++i) to += (i > 0 ? "," : "") + e.values[i];
      to += ")";
    }
  }
  return out;
}

bool isRestartableKind(std::string_view kind) {
  return kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet";
}

double adoptionRatio(int64_t adopted, int64_t active) {
  return active == 0 ? 1.0 : static_cast<double>(adopted) / static_cast<double>(active);
}

AdoptionStatus clientTally(const RotationStatus& status) {
  AdoptionStatus out = status.adoption;
  if (!status.pods) return out;
  out.active += status.pods->running;
  out.adopted += status.pods->adopted;
  out.ratio = adoptionRatio(out.adopted, out.active);
  return out;
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
