// Staging: introduce the next CA beside the current one in the trust bundle.

#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/status_refresh.h"

namespace rotor::reconcilers::phases {
namespace {

/** The next CA: kept if staged already (a retry, or an attempt that was rolled back and whose CA
 *  clients may already trust), else generated or imported. */
StatusOr<pki::CertificateAuthority> ensureNextAuthority(RotationContext& ctx, const CertificateRotation& r,
                                                        store::Versioned<store::Authorities>& stored) {
  if (stored.value.next) {
    return requireAuthority(stored.value.next, "next");
  }
  ASSIGN_OR_RETURN(pki::CertificateAuthority next, authorityFromSource(ctx, r));
  const std::string pem = next.certificate().toPem();
  if (stored.value.current && pem == stored.value.current->certificatePem) {
    return failedPrecondition("the custom CA source still holds the current CA; put the new CA there first");
  }
  stored.value.next = store::AuthorityMaterial{pem, next.key().toPem()};
  RETURN_IF_ERROR(ctx.store.writeAuthorities(r, stored.value, stored.version));
  return next;
}

}  // namespace

StatusOr<Outcome> staging(RotationContext& ctx, CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto authorities, ctx.store.readAuthorities(r));
  auto next = ensureNextAuthority(ctx, r, authorities);
  if (!next.ok()) {
    const Code code = next.status().code();
    if (code == Code::kFailedPrecondition || code == Code::kNotFound || code == Code::kInvalidArgument) {
      return Outcome::block("CANotStaged", next.status().message());
    }
    return next.status();
  }
  RETURN_IF_ERROR(addToBundle(ctx, r, std::span(&next->certificate(), 1)));
  RETURN_IF_ERROR(refreshCaStatus(r.status, authorities.value));
  return Outcome::moveTo(
      api::Phase::kAwaitingAdoption, "Staged",
      "Trust bundle holds the current and the new CA (" + next->certificate().fingerprint().toString() + ")");
}

}  // namespace rotor::reconcilers::phases
