// Staging: introduce the next CA beside the current one in the trust bundle.

#include "reconcilers/abandon.h"
#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/** The next CA: kept if staged already (a retry, or an attempt that was rolled back and whose CA
 *  clients may already trust), else generated or imported; nullopt when spec.ca's source holds
 *  the current CA. */
StatusOr<std::optional<pki::CertificateAuthority>> ensureNextAuthority(RotationContext& ctx,
                                                                       const CertificateRotation& r,
                                                                       store::Versioned<store::Authorities>& stored,
                                                                       std::vector<std::string>& failedChecks) {
  if (stored.value.next) {
    ASSIGN_OR_RETURN(pki::CertificateAuthority next, requireAuthority(stored.value.next, "next"));
    return std::optional<pki::CertificateAuthority>(std::move(next));
  }
  ASSIGN_OR_RETURN(pki::CertificateAuthority next, authorityFromSource(ctx, r, &failedChecks));
  const std::string pem = next.certificate().toPem();
  if (stored.value.current && pem == stored.value.current->certificatePem) {
    return std::optional<pki::CertificateAuthority>();
  }
  stored.value.next = store::AuthorityMaterial{pem, next.key().toPem()};
  RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, stored.value, stored.version));
  return std::optional<pki::CertificateAuthority>(std::move(next));
}

}  // namespace

StatusOr<Outcome> staging(RotationContext& ctx, CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  std::vector<std::string> failedChecks;
  auto next = ensureNextAuthority(ctx, r, authorities, failedChecks);
  if (!next.ok()) {
    if (isCaSourceProblem(next.status())) {
      Outcome refused = Outcome::block("CANotStaged", next.status().message());
      refused.failedChecks = std::move(failedChecks);
      return refused;
    }
    return next.status();
  }
  if (!*next) {
    // spec.ca changed again since this rotation began, back to the current CA: nothing to stage.
    if (caSourceHash(r.spec.ca) != r.status.caSourceHash) {
      return abandonRotation(ctx, r, "Cancelled",
                             "spec.ca names the current CA again: the rotation is cancelled, nothing was staged");
    }
    return Outcome::block("CANotStaged", "the custom CA source still holds the current CA; put the new CA there first");
  }
  const pki::CertificateAuthority& staged = **next;
  RETURN_IF_ERROR(addToBundle(ctx.bundles, r, std::span(&staged.certificate(), 1)));
  RETURN_IF_ERROR(refreshCaStatus(r.status, authorities.value));
  return Outcome::moveTo(
      api::Phase::kAwaitingAdoption, "Staged",
      "Trust bundle holds the current and the new CA (" + staged.certificate().fingerprint().toString() + ")");
}

}  // namespace rotor::reconcilers::phases
