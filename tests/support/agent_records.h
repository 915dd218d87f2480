#pragma once

// Agent records a test writes or reads whole; the Store itself only streams them (visitAgents)
// and writes batches (putAgents), as the controller needs.

#include <vector>

#include "controller/store/agent_store.h"

namespace rotor::testing {

inline StatusOr<std::vector<store::AgentRecord>> listAgents(store::AgentStore& store, const api::ObjectKey& key) {
  std::vector<store::AgentRecord> out;
  RETURN_IF_ERROR(store.visitAgents(key, [&](const store::AgentRecord& a) { out.push_back(a); }));
  return out;
}

inline Status putAgent(store::AgentStore& store, const api::ObjectKey& key, const store::AgentRecord& agent) {
  return store.putAgents(key, {agent});
}

}  // namespace rotor::testing
