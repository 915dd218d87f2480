#include "controller/store/store.h"

#include <algorithm>

namespace rotor::store {

const api::ServerSpec* findServer(const CertificateRotation& r, std::string_view server) {
  for (const api::ServerSpec& s : r.spec.servers) {
    if (s.name == server) {
      return &s;
    }
  }
  return nullptr;
}

StatusOr<std::vector<ObjectKey>> RotationStore::listRotationKeys() {
  ASSIGN_OR_RETURN(std::vector<CertificateRotation> rotations, listRotations(kAllNamespaces));
  std::vector<ObjectKey> keys;
  keys.reserve(rotations.size());
  for (const CertificateRotation& r : rotations) keys.push_back(r.key());
  return keys;
}

StatusOr<api::Rollout> ServerStore::rolloutStatus(const CertificateRotation&, std::string_view) {
  return api::Rollout{};
}

StatusOr<api::BundleCopiesStatus> BundleStore::syncBundleCopies(const CertificateRotation&, const std::string&) {
  return api::BundleCopiesStatus{};
}

Status BundleStore::rotationGone(const ObjectKey&) { return okStatus(); }

StatusOr<size_t> BundleStore::collectOrphans(const std::vector<ObjectKey>&) { return size_t{0}; }

StatusOr<PodTally> ConsumerPodStore::tallyConsumerPods(const CertificateRotation&, const PodQuery&) {
  return failedPrecondition("consumer pods are counted in a cluster only");
}

Status ConsumerPodStore::restartWorkload(const CertificateRotation&, const api::WorkloadRef& workload) {
  return failedPrecondition("cannot restart " + workload.toString() + " outside a cluster");
}

StatusOr<api::Rollout> ConsumerPodStore::workloadRollout(const CertificateRotation&, const api::WorkloadRef& workload) {
  return failedPrecondition("cannot follow " + workload.toString() + " outside a cluster");
}

StatusOr<api::AdoptionStatus> AgentStore::tallyAgents(const ObjectKey& key, const TallyQuery& query) {
  AdoptionCounter counter(query);
  RETURN_IF_ERROR(visitAgents(key, [&](const AgentRecord& a) { counter.add(a); }));
  return counter.result();
}

bool mergeApplied(CertificateRotation& stored, const CertificateRotation& desired) {
  for (const auto& [k, v] : desired.metadata.labels) {
    stored.metadata.labels[k] = v;
  }
  for (const auto& [k, v] : desired.metadata.annotations) {
    stored.metadata.annotations[k] = v;
  }
  bool specChanged = !(stored.spec == desired.spec);
  stored.spec = desired.spec;
  return specChanged;
}

Status validateAgentId(std::string_view id) {
  const bool valid = !id.empty() && id.size() <= kMaxAgentIdLength && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':';
  });
  if (valid) return okStatus();
  return invalidArgument("agent id must be 1 to " + std::to_string(kMaxAgentIdLength) +
                         " characters of A-Z a-z 0-9 . _ : -");
}

bool isSha256Hex(std::string_view hex) {
  return hex.size() == 64 &&
         std::all_of(hex.begin(), hex.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

uint32_t agentGroupOf(std::string_view id, uint32_t groups) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (const char c : id) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return hash % groups;
}

Status validateAgentRecord(const AgentRecord& agent) {
  RETURN_IF_ERROR(validateAgentId(agent.id));
  constexpr size_t kMaxVersionLength = 64;
  const bool printable =
      std::all_of(agent.version.begin(), agent.version.end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (agent.version.size() > kMaxVersionLength || !printable) {
    return invalidArgument("agent " + agent.id + ": version must be at most 64 printable characters without spaces");
  }
  for (const std::string& fp : agent.trusted) {
    constexpr std::string_view kPrefix = "sha256:";
    if (!fp.starts_with(kPrefix) || !isSha256Hex(std::string_view(fp).substr(kPrefix.size()))) {
      return invalidArgument("agent " + agent.id + ": fingerprint is not sha256:<64 lower-case hex digits>");
    }
  }
  return okStatus();
}

}  // namespace rotor::store
