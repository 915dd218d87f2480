// RollingBack: restore a snapshot — servers and bundle — without a moment in which a served
// certificate is not trusted by the bundle.

#include <span>

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/gates.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/restore.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/**
 * Makes the CA that issued the restored certificates current again. The CA the rotation was
 * moving to becomes `next`, so that another attempt reuses it (clients may already trust it).
 * checkRestorable() made sure this rotation holds that CA.
 */
Status restoreAuthorities(RotationContext& ctx, CertificateRotation& r, const pki::Certificate& restoredLeaf) {
  ASSIGN_OR_RETURN(auto stored, ctx.authorities.readAuthorities(r));
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
    RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, restored, stored.version));
    a = restored;
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, a));
  return refreshServerStatus(ctx.servers, r, a);
}

/**
 * A rollback to certificates of a pruned CA: the CA goes back into the bundle beside the current
 * one, and the servers are restored only once clients trust it again — the adoption gate of a
 * rotation, measured for that CA. Nullopt once they may be restored; `skipped` when the operator
 * asked to restore at once (kRollbackSkipAdoptionAnnotation naming this snapshot).
 */
StatusOr<std::optional<Outcome>> restageBeforeRestore(RotationContext& ctx, CertificateRotation& r,
                                                      const store::Snapshot& snapshot, bool& skipped) {
  const std::string& fingerprint = r.status.rollbackRestagedCa;
  ASSIGN_OR_RETURN(std::optional<pki::Certificate> restaged, snapshotIssuer(ctx.authorities, r, snapshot));
  if (!restaged || restaged->fingerprint().toString() != fingerprint) {
    return failedPrecondition("the CA " + fingerprint + " the snapshot's certificates chain to is no longer held");
  }
  RETURN_IF_ERROR(addToBundle(ctx.bundles, r, std::span(&*restaged, 1)));
  ASSIGN_OR_RETURN(const GateDecision gate, passAdoptionGate(ctx, r, fingerprint, "the CA being restored"));
  skipped = annotationOf(r, api::kRollbackSkipAdoptionAnnotation) == r.status.rollbackSnapshot;
  if (gate.open || skipped) {
    return std::optional<Outcome>();
  }
  const std::string why =
      "the rollback waits for clients to trust the CA it restores (pruned earlier): " + gate.message;
  if (gate.timedOut) {
    return std::optional<Outcome>(Outcome::block("AdoptionTimeout", "adoption.timeout passed; " + why));
  }
  return std::optional<Outcome>(Outcome::wait(gate.recheckAfter, "AwaitingAdoption", "Restaging: " + why));
}

}  // namespace

StatusOr<Outcome> rollingBack(RotationContext& ctx, CertificateRotation& r) {
  const std::string& name = r.status.rollbackSnapshot;
  auto snapshot = ctx.snapshots.getSnapshot(r, name);
  if (!snapshot.ok()) {
    if (snapshot.status().code() == Code::kNotFound || snapshot.status().code() == Code::kFailedPrecondition) {
      return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable",
                             "Cannot roll back to snapshot \"" + name + "\": " + snapshot.status().message());
    }
    return snapshot.status();
  }
  if (Status usable = checkRestorable(ctx.authorities, r, *snapshot); !usable.ok()) {
    if (usable.code() != Code::kFailedPrecondition) {
      return usable;
    }
    return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable", usable.message() + "; nothing was changed");
  }
  bool skippedAdoption = false;
  if (!r.status.rollbackRestagedCa.empty()) {
    auto waiting = restageBeforeRestore(ctx, r, *snapshot, skippedAdoption);
    if (!waiting.ok() && waiting.status().code() == Code::kFailedPrecondition) {
      return Outcome::moveTo(api::Phase::kFailed, "SnapshotUnusable", waiting.status().message());
    }
    RETURN_IF_ERROR(waiting.status());
    if (*waiting) {
      return **waiting;
    }
  }
  // Widen the bundle first: whatever is served before or after each write stays trusted.
  if (!snapshot->bundlePem.empty()) {
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> old, pki::parsePemBundle(snapshot->bundlePem));
    RETURN_IF_ERROR(addToBundle(ctx.bundles, r, old));
  }
  std::optional<pki::Certificate> restoredLeaf;
  for (const api::ServerSpec& server : r.spec.servers) {
    auto saved = snapshot->servers.find(server.name);
    if (saved == snapshot->servers.end()) {
      continue;
    }
    ASSIGN_OR_RETURN(auto served, ctx.servers.readServed(r, server.name));
    if (served.value != saved->second) {
      RETURN_IF_ERROR(ctx.servers.writeServed(r, server.name, saved->second, served.version));
    }
    if (Status reloaded = ctx.servers.reload(r, server.name); !reloaded.ok()) {
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
    RETURN_IF_ERROR(setBundle(ctx.bundles, r, snapshot->bundlePem));
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
  r.status.rollbackRestagedCa.clear();
  std::string message = "Restored snapshot \"" + name + "\" (taken " + formatRfc3339(snapshot->takenAt) +
                        ", revision " + std::to_string(snapshot->revision) + ")";
  if (skippedAdoption) {
    message += " at once, as asked (" + std::string(api::kRollbackSkipAdoptionAnnotation) + "), when " +
               std::to_string(r.status.adoption.adopted) + "/" + std::to_string(r.status.adoption.active) +
               " active agents trusted its CA again: clients that had dropped it fail until they learn it";
    ctx.events.record(r, EventType::kWarning, "AdoptionSkipped", message);
  }
  return Outcome::moveTo(api::Phase::kRolledBack, "RolledBack", message);
}

}  // namespace rotor::reconcilers::phases
