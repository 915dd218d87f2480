// RollingBack: restore a snapshot — servers and bundle — without a moment in which a served
// certificate is not trusted by the bundle.

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/restore.h"
#include "reconcilers/status_refresh.h"

namespace rotor::reconcilers::phases {
namespace {

/**
 * Makes the CA that issued the restored certificates current again. The CA the rotation was
 * moving to becomes `next`, so that another attempt reuses it (clients may already trust it).
 * checkRestorable() made sure this rotation holds that CA.
 */
Status restoreAuthorities(RotationContext& ctx, CertificateRotation& r, const pki::Certificate& restoredLeaf) {
  ASSIGN_OR_RETURN(auto stored, ctx.store.readAuthorities(r));
  store::Authorities& a = stored.value;
  const std::optional<store::AuthorityMaterial>* issuer = issuerSlot(a, restoredLeaf);
  if (issuer == nullptr) {
    return failedPrecondition("the snapshot's certificates were issued by a CA this rotation no longer holds");
  }
  if (issuer != &a.current) {
    store::Authorities restored;
    restored.current = *issuer;
    restored.next = issuer == &a.previous ? a.current : a.next;
    restored.previous = issuer == &a.previous ? std::nullopt : a.previous;
    RETURN_IF_ERROR(ctx.store.writeAuthorities(r, restored, stored.version));
    a = restored;
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, a));
  return refreshServerStatus(ctx, r, a);
}

}  // namespace

StatusOr<Outcome> rollingBack(RotationContext& ctx, CertificateRotation& r) {
  const std::string& name = r.status.rollbackSnapshot;
  auto snapshot = ctx.store.getSnapshot(r, name);
  if (!snapshot.ok()) {
    if (snapshot.status().code() == Code::kNotFound || snapshot.status().code() == Code::kFailedPrecondition) {
      return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable",
                             "Cannot roll back to snapshot \"" + name + "\": " + snapshot.status().message());
    }
    return snapshot.status();
  }
  if (Status usable = checkRestorable(ctx.store, r, *snapshot); !usable.ok()) {
    if (usable.code() != Code::kFailedPrecondition) {
      return usable;
    }
    return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable", usable.message() + "; nothing was changed");
  }
  // Widen the bundle first: whatever is served before or after each write stays trusted.
  if (!snapshot->bundlePem.empty()) {
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> old, pki::parsePemBundle(snapshot->bundlePem));
    RETURN_IF_ERROR(addToBundle(ctx, r, old));
  }
  std::optional<pki::Certificate> restoredLeaf;
  for (const api::ServerSpec& server : r.spec.servers) {
    auto saved = snapshot->servers.find(server.name);
    if (saved == snapshot->servers.end()) {
      continue;
    }
    ASSIGN_OR_RETURN(auto served, ctx.store.readServed(r, server.name));
    if (served.value != saved->second) {
      RETURN_IF_ERROR(ctx.store.writeServed(r, server.name, saved->second, served.version));
    }
    if (Status reloaded = ctx.store.reload(r, server.name); !reloaded.ok()) {
      if (reloaded.code() == Code::kUnavailable) {
        return reloaded;
      }
      return Outcome::moveTo(
          api::Phase::kFailed, "RollbackReloadFailed",
          "Server \"" + server.name + "\" did not reload its restored certificate: " + reloaded.message());
    }
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, chainOf(saved->second));
    restoredLeaf = chain.front();
  }
  if (!snapshot->bundlePem.empty()) {
    RETURN_IF_ERROR(setBundle(ctx, r, snapshot->bundlePem));
  }
  if (restoredLeaf) {
    if (Status s = restoreAuthorities(ctx, r, *restoredLeaf); !s.ok()) {
      return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable", s.message());
    }
  }
  for (api::ServerStatus& server : r.status.servers) {
    server.swappedAt.reset();
    server.rolledOutAt.reset();
    server.verifiedAt.reset();
  }
  r.status.trigger.clear();
  return Outcome::moveTo(api::Phase::kRolledBack, "RolledBack",
                         "Restored snapshot \"" + name + "\" (taken " + formatRfc3339(snapshot->takenAt) +
                             ", revision " + std::to_string(snapshot->revision) + ")");
}

}  // namespace rotor::reconcilers::phases
