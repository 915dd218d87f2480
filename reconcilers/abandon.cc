#include "reconcilers/abandon.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/snapshots.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers {

std::optional<std::string> whyNotAbandonable(const api::CertificateRotation& r) {
  const api::Phase phase = r.status.phase;
  const bool aside = phase == api::Phase::kBlocked || phase == api::Phase::kPaused;
  const api::Phase where = aside ? r.status.resumePhase.value_or(phase) : phase;
  const std::string rollBack = "roll back instead: rotor rollback " + r.metadata.name;
  if (where != api::Phase::kStaging && where != api::Phase::kAwaitingAdoption) {
    return "it is " + std::string(api::phaseName(where)) +
           "; only a rotation that is staging or awaiting adoption can be abandoned (after a swap, " + rollBack + ")";
  }
  for (const api::ServerStatus& server : r.status.servers) {
    if (server.swappedAt) {
      return "server \"" + server.name + "\" already presents a certificate of the new CA; " + rollBack;
    }
  }
  return std::nullopt;
}

StatusOr<Outcome> abandonRotation(RotationContext& ctx, api::CertificateRotation& r, std::string reason,
                                  std::string message) {
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  if (authorities.value.next) {
    ASSIGN_OR_RETURN(pki::Certificate staged, pki::Certificate::fromPem(authorities.value.next->certificatePem));
    ASSIGN_OR_RETURN(auto bundle, readBundleCertificates(ctx.bundles, r));
    std::vector<pki::Certificate> kept;
    std::copy_if(bundle.value.begin(), bundle.value.end(), std::back_inserter(kept),
                 [&](const pki::Certificate& c) { return c.fingerprint() != staged.fingerprint(); });
    if (kept.size() != bundle.value.size()) {
      // A snapshot writes no bundle: the version read above still guards the write.
      RETURN_IF_ERROR(ensureSnapshot(ctx, r, "abandon", "Before taking the staged CA out of the bundle").status());
      RETURN_IF_ERROR(ctx.bundles.writeBundle(r, pki::writePemBundle(kept), bundle.version));
    }
    authorities.value.next.reset();
    RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, authorities.value, authorities.version));
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, authorities.value));
  r.status.trigger.clear();
  r.status.adoption = {};
  r.status.pods.reset();
  // What spec.ca names now is not to be rotated to again by itself: a later change or rotor rotate is.
  r.status.caSourceHash = caSourceHash(r.spec.ca);
  return Outcome::moveTo(api::Phase::kReady, std::move(reason), std::move(message));
}

}  // namespace rotor::reconcilers
