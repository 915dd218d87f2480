// Ready and RolledBack: wait for a trigger and start the next rotation.

#include <algorithm>

#include "reconcilers/bundle.h"
#include "reconcilers/ca_renewal.h"
#include "reconcilers/ca_source_change.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/** Resting phases look again at least this often: the periodic resync of expiry triggers. */
constexpr Duration kRestingRecheck = std::chrono::hours(1);

}  // namespace

StatusOr<Outcome> resting(RotationContext& ctx, CertificateRotation& r) {
  const SystemTime now = ctx.clock.now();
  const bool rolledBack = r.status.phase == api::Phase::kRolledBack;
  TriggerDecision d = detectTrigger(r, now, /*includeExpiry=*/!rolledBack);
  if (d.trigger.empty()) {
    // After the explicit requests and spec changes, before expiry: what the CA Secret holds.
    ASSIGN_OR_RETURN(TriggerDecision written, detectCaSecretChange(ctx, r));
    if (!written.trigger.empty()) {
      written.nextExpiryCheck = d.nextExpiryCheck;
      d = written;
    }
  }
  if (d.trigger.empty()) {
    r.status.caSecret.pending.clear();  // nothing waits: what the Secret holds is taken up
    // A hash an older rotor recorded cannot be compared: record this source in the current
    // encoding, so that the next change of spec.ca is seen.
    if (!r.status.caSourceHash.empty() && !isCurrentCaSourceHash(r.status.caSourceHash)) {
      r.status.caSourceHash = caSourceHash(r.spec.ca);
    }
    Duration recheck = followsCaSecret(r) ? kCaSecretRecheck : kRestingRecheck;
    if (d.nextExpiryCheck) {
      recheck = std::clamp(std::chrono::ceil<Duration>(*d.nextExpiryCheck - now), Duration(1000), recheck);
    }
    // At rest too: a namespace that starts matching gets its copy, one that stops loses it.
    ASSIGN_OR_RETURN(const bool copied, syncBundleCopies(ctx, r));
    std::string message = rolledBack ? r.status.message : std::string(kUpToDateMessage);
    if (!copied) {
      recheck = std::min(recheck, kBundleCopiesRecheck);
      // Said where it is seen: a copy the API server refuses (or an API it lacks) must not hide.
      if (!rolledBack && r.status.bundleCopies) message += "; " + bundleCopiesMessage(*r.status.bundleCopies);
    }
    return Outcome::wait(recheck, rolledBack ? "RolledBack" : "UpToDate", message);
  }
  api::RotationStatus& s = r.status;
  if (d.trigger == triggers::kCaRenewRequested) {
    // Refused before anything is written, and consumed: a new request asks again.
    ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
    ASSIGN_OR_RETURN(pki::CertificateAuthority current, requireAuthority(authorities.value.current, "current"));
    if (std::optional<std::string> why = whyCaNotRenewable(r, current)) {
      s.handled.renewCa = annotationOf(r, api::kRenewCaAnnotation);
      return Outcome::refuse(Duration::zero(), "CaRenewalRefused", "Cannot renew the CA: " + *why);
    }
  }
  // A new rotation: consume the request, forget the previous attempt's progress.
  s.trigger = d.trigger;
  // Another attempt at the same revision (after a rollback or an abandoned rotation) names its
  // snapshots anew: it must never take an earlier attempt's snapshot for its own.
  const bool triedAtThisRevision = std::any_of(s.snapshots.begin(), s.snapshots.end(),
                                               [&](const api::SnapshotRef& x) { return x.revision == s.revision; });
  s.attempt = rolledBack || triedAtThisRevision ? s.attempt + 1 : 1;
  s.handled.rotate = annotationOf(r, api::kRotateAnnotation);
  s.handled.renew = annotationOf(r, api::kRenewAnnotation);
  s.handled.renewCa = annotationOf(r, api::kRenewCaAnnotation);
  s.handled.approve = annotationOf(r, api::kApproveAnnotation);  // approves this rotation's gate, not an earlier one
  s.caSourceHash = caSourceHash(r.spec.ca);
  if (!d.caSource.empty()) s.caSecret = {d.caSource, ""};
  s.rollbackSnapshot.clear();
  s.adoption = {};
  s.pods.reset();
  for (api::ServerStatus& server : s.servers) {
    server.swappedAt.reset();
    server.rolledOutAt.reset();
    server.verifiedAt.reset();
    server.lastProbeAt.reset();
    server.probeFailures = 0;
    server.lastProbeError.clear();
  }
  if (d.trigger == triggers::kCaChanged) {
    // A CA staged by an earlier, rolled-back attempt came from the old spec: start afresh.
    ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
    if (authorities.value.next) {
      authorities.value.next.reset();
      RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, authorities.value, authorities.version));
    }
  }
  if (isRenewal(d.trigger)) {
    return Outcome::moveTo(
        api::Phase::kSwapping, d.trigger,
        d.message + (d.trigger == triggers::kCaRenewRequested
                         ? "; re-issuing the CA certificate with its key, then the servers' under it"
                     : d.trigger == triggers::kCaSourceRenewed
                         ? "; taking up the re-issued CA certificate, then renewing the servers under it"
                         : "; renewing under the current CA"));
  }
  return Outcome::moveTo(api::Phase::kStaging, d.trigger, d.message + "; staging a new CA");
}

}  // namespace rotor::reconcilers::phases
