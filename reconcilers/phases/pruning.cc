// Draining and Pruning: keep the old CA trusted for prune.after, then drop it from the bundle.

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/snapshots.h"
#include "reconcilers/status_refresh.h"

namespace rotor::reconcilers::phases {

StatusOr<Outcome> draining(RotationContext& ctx, CertificateRotation& r) {
  const SystemTime now = ctx.clock.now();
  SystemTime pruneAt = r.status.phaseStartedAt.value_or(now) + r.spec.prune.after;
  std::string why = "prune.after";
  if (r.spec.prune.waitForExpiry && r.status.ca.previous && r.status.ca.previous->notAfter &&
      *r.status.ca.previous->notAfter > pruneAt) {
    pruneAt = *r.status.ca.previous->notAfter;
    why = "the old CA's expiry (prune.waitForExpiry)";
  }
  if (now < pruneAt) {
    return Outcome::wait(std::chrono::ceil<Duration>(pruneAt - now), "Draining",
                         "The old CA stays in the bundle until " + formatRfc3339(pruneAt) + " (" + why + ")");
  }
  return Outcome::moveTo(api::Phase::kPruning, "Drained", "Removing the old CA from the bundle");
}

StatusOr<Outcome> pruning(RotationContext& ctx, CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  ASSIGN_OR_RETURN(pki::CertificateAuthority current, requireAuthority(authorities.value.current, "current"));
  RETURN_IF_ERROR(ensureSnapshot(ctx, r, "prune", "Before removing the old CA from the bundle").status());
  RETURN_IF_ERROR(setBundle(ctx.bundles, r, current.certificate().toPem()));
  ASSIGN_OR_RETURN(const bool copied, syncBundleCopies(ctx, r));
  if (!copied) {
    return Outcome::wait(
        kBundleCopiesRecheck, "Pruning",
        "Removing the old CA from the bundle's copies: " + bundleCopiesMessage(*r.status.bundleCopies));
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, authorities.value));
  RETURN_IF_ERROR(refreshServerStatus(ctx.servers, r, authorities.value));
  ++r.status.revision;
  r.status.trigger.clear();
  return Outcome::moveTo(api::Phase::kReady, "Rotated",
                         "Rotation complete: the bundle and every server use the new CA only");
}

}  // namespace rotor::reconcilers::phases
