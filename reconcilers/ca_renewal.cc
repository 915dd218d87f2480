#include "reconcilers/ca_renewal.h"

#include <algorithm>
#include <span>

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers {
namespace {

std::string describeKey(const KeySpec& key) {
  return std::string(keyAlgorithmName(key.algorithm)) + (key.size > 0 ? "-" + std::to_string(key.size) : "");
}

}  // namespace

std::optional<std::string> whyCaNotRenewable(const api::CertificateRotation& r,
                                             const pki::CertificateAuthority& current) {
  if (!r.spec.ca.generate) {
    return "the CA is imported (spec.ca." + std::string(r.spec.ca.files ? "files" : "secretRef") +
           "): re-issue it where it was made, or rotate to a new CA (rotor rotate " + r.metadata.name + ")";
  }
  const KeySpec have = current.key().spec();
  const KeySpec& want = r.spec.ca.generate->privateKey;
  if (!(have == want)) {
    return "spec.ca.generate.privateKey asks for " + describeKey(want) + " but the CA's key is " + describeKey(have) +
           ": a renewal keeps the key, so rotate to a new CA instead (rotor rotate " + r.metadata.name + ")";
  }
  return std::nullopt;
}

Status renewCurrentCaOnce(RotationContext& ctx, api::CertificateRotation& r, const store::Snapshot& swapSnapshot) {
  ASSIGN_OR_RETURN(auto stored, ctx.authorities.readAuthorities(r));
  ASSIGN_OR_RETURN(pki::CertificateAuthority current, requireAuthority(stored.value.current, "current"));
  std::vector<pki::Certificate> saved;
  if (!swapSnapshot.bundlePem.empty()) {
    ASSIGN_OR_RETURN(saved, pki::parsePemBundle(swapSnapshot.bundlePem));
  }
  const Fingerprint fingerprint = current.certificate().fingerprint();
  const bool notRenewedYet = std::any_of(saved.begin(), saved.end(),
                                         [&](const pki::Certificate& c) { return c.fingerprint() == fingerprint; });
  if (notRenewedYet && r.status.trigger == triggers::kCaSourceRenewed) {
    // Re-issued where it is managed: taken from the Secret, with the imported CA's checks.
    ASSIGN_OR_RETURN(pki::CertificateAuthority written, authorityFromSource(ctx, r));
    if (!written.certificate().matchesKey(current.key())) {
      return failedPrecondition(
          "spec.ca.secretRef's Secret no longer holds the CA's key: it is taken up as a new CA "
          "when this renewal ends");
    }
    current = std::move(written);
    stored.value.current = store::AuthorityMaterial{current.certificate().toPem(), current.key().toPem()};
    RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, stored.value, stored.version));
  } else if (notRenewedYet) {
    if (std::optional<std::string> why = whyCaNotRenewable(r, current)) {
      return failedPrecondition("cannot renew the CA: " + *why);
    }
    ASSIGN_OR_RETURN(current, current.renew(r.spec.ca.generate->validity, ctx.clock.now()));
    stored.value.current = store::AuthorityMaterial{current.certificate().toPem(), current.key().toPem()};
    RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, stored.value, stored.version));
  }
  RETURN_IF_ERROR(addToBundle(ctx.bundles, r, std::span(&current.certificate(), 1)));
  return refreshCaStatus(r.status, stored.value);
}

}  // namespace rotor::reconcilers
