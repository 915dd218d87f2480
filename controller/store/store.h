#pragma once

// The Store: the only door the reconcilers have to the world's state. Domain-level on purpose:
// rotations, served material, trust bundles, CA material, snapshots and agent records, never
// Secrets or files. It is split by role (docs/design.md has the map): a reconciler or helper
// takes the roles it uses, and each role has its contract suite in tests/contract that every
// implementation passes. `local` and `kube` implement them all, as Store.

#include <memory>

#include "controller/store/agent_store.h"
#include "controller/store/authority_store.h"
#include "controller/store/bundle_store.h"
#include "controller/store/consumer_pod_store.h"
#include "controller/store/rotation_store.h"
#include "controller/store/server_store.h"
#include "controller/store/snapshot_store.h"

namespace rotor::store {

/** Every role in one object: what a backend implements and what the controller wires up. */
class Store : public RotationStore,
              public AuthorityStore,
              public ServerStore,
              public BundleStore,
              public SnapshotStore,
              public ConsumerPodStore,
              public AgentStore,
              public AgentTokenStore {};

using StorePtr = std::unique_ptr<Store>;

}  // namespace rotor::store
