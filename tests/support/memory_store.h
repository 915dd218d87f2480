#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/store/store.h"

namespace rotor::testing {

/**
 * The Store in memory, for reconciler tests. It keeps the contract tests/contract proves for
 * every Store: versions, conflicts, generation bumps, idempotent snapshots.
 */
class MemoryStore final : public store::Store {
public:
  explicit MemoryStore(const Clock& clock) : clock_(clock) {}

  StatusOr<std::vector<store::CertificateRotation>> listRotations(const std::string& ns) override;
  StatusOr<store::CertificateRotation> getRotation(const store::ObjectKey& key) override;
  StatusOr<store::CertificateRotation> applyRotation(const store::CertificateRotation& desired) override;
  Status updateRotation(store::CertificateRotation& rotation) override;
  Status updateRotationStatus(store::CertificateRotation& rotation) override;
  Status deleteRotation(const store::ObjectKey& key) override;
  StatusOr<store::Versioned<store::Authorities>> readAuthorities(const store::CertificateRotation& r) override;
  Status writeAuthorities(const store::CertificateRotation& r, const store::Authorities& a,
                          const store::Version& expected) override;
  StatusOr<store::AuthorityMaterial> readCustomAuthority(const store::CertificateRotation& r) override;
  StatusOr<store::Versioned<std::optional<store::ServedMaterial>>> readServed(const store::CertificateRotation& r,
                                                                              std::string_view server) override;
  Status writeServed(const store::CertificateRotation& r, std::string_view server, const store::ServedMaterial& m,
                     const store::Version& expected) override;
  StatusOr<store::Versioned<std::optional<std::string>>> readBundle(const store::CertificateRotation& r) override;
  Status writeBundle(const store::CertificateRotation& r, const std::string& pem,
                     const store::Version& expected) override;
  Status putSnapshot(const store::CertificateRotation& r, const store::Snapshot& s) override;
  StatusOr<store::Snapshot> getSnapshot(const store::CertificateRotation& r, std::string_view name) override;
  StatusOr<std::vector<std::string>> listSnapshots(const store::CertificateRotation& r) override;
  Status reload(const store::CertificateRotation& r, std::string_view server) override;
  StatusOr<api::Rollout> rolloutStatus(const store::CertificateRotation& r, std::string_view server) override;
  Status visitAgents(const store::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& visit) override;
  Status putAgents(const store::ObjectKey& key, const std::vector<store::AgentRecord>& agents) override;
  StatusOr<std::vector<std::string>> readAgentTokenDigests(const store::ObjectKey& key) override;
  Status addAgentTokenDigest(const store::ObjectKey& key, const std::string& digestHex) override;

  /** What readCustomAuthority returns for `key` (the operator's CA files or Secret). */
  void setCustomAuthority(const store::ObjectKey& key, const store::AuthorityMaterial& material);
  /** Makes the next `times` reloads of `server` fail with `status` (ok: succeed again). */
  void failReloads(std::string_view server, Status status, int times = 1 << 30);

  /** What rolloutStatus answers for `server` from now on (done by default). */
  void setRollout(std::string_view server, api::Rollout rollout);

  /** Reload calls seen, as "ns/name/server". */
  std::vector<std::string> reloads() const;

private:
  template <typename T>
  struct Slot {
    T value;
    int64_t version = 0;  // 0: absent
  };
  std::string nextVersion() { return std::to_string(++sequence_); }
  Status requireRotation(const store::ObjectKey& key) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  int64_t sequence_ = 0;
  std::map<store::ObjectKey, store::CertificateRotation> rotations_;
  std::map<store::ObjectKey, Slot<store::Authorities>> authorities_;
  std::map<std::pair<store::ObjectKey, std::string>, Slot<store::ServedMaterial>> served_;
  std::map<store::ObjectKey, Slot<std::string>> bundles_;
  std::map<store::ObjectKey, std::vector<store::Snapshot>> snapshots_;
  std::map<store::ObjectKey, std::map<std::string, store::AgentRecord>> agents_;
  std::map<store::ObjectKey, std::vector<std::string>> tokenDigests_;
  std::vector<std::string> reloads_;
  std::map<std::string, api::Rollout, std::less<>> rollouts_;
  std::map<store::ObjectKey, store::AuthorityMaterial> customAuthorities_;
  std::map<std::string, std::pair<Status, int>, std::less<>> reloadFailures_;
};

}  // namespace rotor::testing
