#include "reconcilers/snapshots.h"

#include <algorithm>

#include "reconcilers/status_refresh.h"

namespace rotor::reconcilers {

using api::CertificateRotation;

std::string snapshotName(const CertificateRotation& r, std::string_view purpose) {
  const std::string retry = r.status.attempt > 1 ? "-retry" + std::to_string(r.status.attempt) : "";
  return r.metadata.name + "-r" + std::to_string(r.status.revision) + retry + "-" + std::string(purpose);
}

StatusOr<store::Snapshot> ensureSnapshot(RotationContext& ctx, CertificateRotation& r, std::string_view purpose,
                                         const std::string& reason) {
  const std::string name = snapshotName(r, purpose);
  auto existing = ctx.snapshots.getSnapshot(r, name);
  store::Snapshot snapshot;
  if (existing.ok()) {
    snapshot = std::move(*existing);
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status();
  } else {
    snapshot = {name, statusNow(ctx), r.status.revision, reason, {}, {}};
    for (const api::ServerSpec& server : r.spec.servers) {
      ASSIGN_OR_RETURN(auto served, ctx.servers.readServed(r, server.name));
      if (served.value) {
        snapshot.servers[server.name] = *served.value;
      }
    }
    ASSIGN_OR_RETURN(auto bundle, ctx.bundles.readBundle(r));
    snapshot.bundlePem = bundle.value.value_or("");
    RETURN_IF_ERROR(ctx.snapshots.putSnapshot(r, snapshot));
  }
  const bool recorded = std::any_of(r.status.snapshots.begin(), r.status.snapshots.end(),
                                    [&](const api::SnapshotRef& s) { return s.name == name; });
  if (!recorded) {
    r.status.snapshots.push_back({snapshot.name, snapshot.takenAt, snapshot.revision, snapshot.reason});
  }
  return snapshot;
}

}  // namespace rotor::reconcilers
