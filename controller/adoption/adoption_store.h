#pragma once

#include "controller/adoption/registry.h"
#include "controller/adoption/service.h"
#include "controller/store/forwarding_store.h"

namespace rotor::adoption {

/**
 * The controller's view of the Store while it serves the adoption API: agent records come from
 * the in-memory registry (fresher than what was last persisted), and writes that change what the
 * API serves (bundle, tokens, deletion) reach the service at once instead of after its cache TTL.
 */
class AdoptionStore final : public store::ForwardingStore {
public:
  AdoptionStore(store::Store& inner, AgentRegistry& registry, AdoptionService& service)
      : ForwardingStore(inner), registry_(registry), service_(service) {}

  Status visitAgents(const api::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& fn) override {
    return registry_.visit(key, fn);
  }
  StatusOr<api::AdoptionStatus> tallyAgents(const api::ObjectKey& key, const store::TallyQuery& query) override {
    return registry_.tally(key, query);
  }
  Status putAgents(const api::ObjectKey& key, const std::vector<store::AgentRecord>& agents) override {
    RETURN_IF_ERROR(registry_.flush(AgentRegistry::Persist::kEverything));
    RETURN_IF_ERROR(ForwardingStore::putAgents(key, agents));
    registry_.forget(key);  // reloaded with these records on next use
    return okStatus();
  }
  Status writeBundle(const store::CertificateRotation& r, const std::string& pem, const store::Version& v) override {
    Status s = ForwardingStore::writeBundle(r, pem, v);
    service_.invalidate(r.key());
    return s;
  }
  Status addAgentTokenDigest(const api::ObjectKey& key, const std::string& digest) override {
    Status s = ForwardingStore::addAgentTokenDigest(key, digest);
    service_.invalidate(key);
    return s;
  }
  Status deleteRotation(const api::ObjectKey& key) override {
    Status s = ForwardingStore::deleteRotation(key);
    registry_.forget(key);
    service_.invalidate(key);
    return s;
  }

private:
  AgentRegistry& registry_;
  AdoptionService& service_;
};

}  // namespace rotor::adoption
