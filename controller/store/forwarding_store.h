#pragma once

#include "controller/store/store.h"

namespace rotor::store {

/**
 * A Store that passes every call to another one. Decorators (the adoption registry's view of the
 * agents, fault injection in tests) derive from it and override only what they change.
 */
class ForwardingStore : public Store {
public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}

  StatusOr<std::vector<CertificateRotation>> listRotations(const std::string& ns) override {
    return inner_.listRotations(ns);
  }
  StatusOr<std::vector<ObjectKey>> listRotationKeys() override { return inner_.listRotationKeys(); }
  StatusOr<CertificateRotation> getRotation(const ObjectKey& key) override { return inner_.getRotation(key); }
  StatusOr<CertificateRotation> applyRotation(const CertificateRotation& desired) override {
    return inner_.applyRotation(desired);
  }
  Status updateRotation(CertificateRotation& r) override { return inner_.updateRotation(r); }
  Status updateRotationStatus(CertificateRotation& r) override { return inner_.updateRotationStatus(r); }
  Status deleteRotation(const ObjectKey& key) override { return inner_.deleteRotation(key); }

  StatusOr<Versioned<Authorities>> readAuthorities(const CertificateRotation& r) override {
    return inner_.readAuthorities(r);
  }
  Status writeAuthorities(const CertificateRotation& r, const Authorities& a, const Version& expected) override {
    return inner_.writeAuthorities(r, a, expected);
  }
  StatusOr<AuthorityMaterial> readCustomAuthority(const CertificateRotation& r) override {
    return inner_.readCustomAuthority(r);
  }

  StatusOr<Versioned<std::optional<ServedMaterial>>> readServed(const CertificateRotation& r,
                                                                std::string_view server) override {
    return inner_.readServed(r, server);
  }
  Status writeServed(const CertificateRotation& r, std::string_view server, const ServedMaterial& m,
                     const Version& expected) override {
    return inner_.writeServed(r, server, m, expected);
  }

  StatusOr<Versioned<std::optional<std::string>>> readBundle(const CertificateRotation& r) override {
    return inner_.readBundle(r);
  }
  Status writeBundle(const CertificateRotation& r, const std::string& pem, const Version& expected) override {
    return inner_.writeBundle(r, pem, expected);
  }
  StatusOr<api::BundleCopiesStatus> syncBundleCopies(const CertificateRotation& r, const std::string& pem) override {
    return inner_.syncBundleCopies(r, pem);
  }
  Status rotationGone(const ObjectKey& key) override { return inner_.rotationGone(key); }
  StatusOr<size_t> collectOrphans(const std::vector<ObjectKey>& rotations) override {
    return inner_.collectOrphans(rotations);
  }

  Status putSnapshot(const CertificateRotation& r, const Snapshot& s) override { return inner_.putSnapshot(r, s); }
  StatusOr<Snapshot> getSnapshot(const CertificateRotation& r, std::string_view name) override {
    return inner_.getSnapshot(r, name);
  }
  StatusOr<std::vector<std::string>> listSnapshots(const CertificateRotation& r) override {
    return inner_.listSnapshots(r);
  }

  Status reload(const CertificateRotation& r, std::string_view server) override { return inner_.reload(r, server); }
  StatusOr<api::Rollout> rolloutStatus(const CertificateRotation& r, std::string_view server) override {
    return inner_.rolloutStatus(r, server);
  }

  StatusOr<PodTally> tallyConsumerPods(const CertificateRotation& r, const PodQuery& query) override {
    return inner_.tallyConsumerPods(r, query);
  }
  Status restartWorkload(const CertificateRotation& r, const api::WorkloadRef& workload) override {
    return inner_.restartWorkload(r, workload);
  }
  StatusOr<api::Rollout> workloadRollout(const CertificateRotation& r, const api::WorkloadRef& workload) override {
    return inner_.workloadRollout(r, workload);
  }

  Status visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) override {
    return inner_.visitAgents(key, visit);
  }
  Status putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) override {
    return inner_.putAgents(key, agents);
  }
  StatusOr<api::AdoptionStatus> tallyAgents(const ObjectKey& key, const TallyQuery& query) override {
    return inner_.tallyAgents(key, query);  // the inner store may count compactly (the registry)
  }
  uint32_t agentGroups() const override { return inner_.agentGroups(); }
  StatusOr<std::vector<std::string>> readAgentTokenDigests(const ObjectKey& key) override {
    return inner_.readAgentTokenDigests(key);
  }
  Status addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) override {
    return inner_.addAgentTokenDigest(key, digestHex);
  }

protected:
  Store& inner() { return inner_; }

private:
  Store& inner_;
};

}  // namespace rotor::store
