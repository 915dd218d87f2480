#pragma once

// The Store's role for backup snapshots: what a rollback puts back.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/store/server_store.h"

namespace rotor::store {

/** Everything a rollback needs to put back: each server's material and the bundle. */
struct Snapshot {
  std::string name;  // DNS-1123 subdomain; deterministic so that a retried write meets itself
  SystemTime takenAt;
  int64_t revision = 0;
  std::string reason;
  std::map<std::string, ServedMaterial> servers;  // by server name
  std::string bundlePem;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

class SnapshotStore {
public:
  virtual ~SnapshotStore() = default;

  /** Idempotent by name: writing the same snapshot again succeeds; a different one under an
   *  existing name is kAlreadyExists. */
  virtual Status putSnapshot(const api::CertificateRotation& r, const Snapshot& snapshot) = 0;
  /** kNotFound when absent; kFailedPrecondition when its stored copy was damaged. */
  virtual StatusOr<Snapshot> getSnapshot(const api::CertificateRotation& r, std::string_view name) = 0;
  /** The snapshots' names, oldest first. */
  virtual StatusOr<std::vector<std::string>> listSnapshots(const api::CertificateRotation& r) = 0;
};

}  // namespace rotor::store
