#include "reconcilers/ca_source_change.h"

#include "controller/pki/bundle.h"
#include "reconcilers/material.h"

namespace rotor::reconcilers {
namespace {

/** The first certificate of the CA Secret's tls.crt; nullopt when there is none to act on. */
StatusOr<std::optional<pki::Certificate>> caSecretCertificate(RotationContext& ctx, const api::CertificateRotation& r) {
  StatusOr<store::AuthorityMaterial> custom = ctx.authorities.readCustomAuthority(r);
  if (!custom.ok()) {
    if (isCaSourceProblem(custom.status())) return std::optional<pki::Certificate>();
    return custom.status();
  }
  StatusOr<std::vector<pki::Certificate>> chain = pki::parsePemBundle(custom->certificatePem);
  if (!chain.ok() || chain->empty()) return std::optional<pki::Certificate>();
  return std::optional<pki::Certificate>(chain->front());
}

/** The phases of a rotation that has started and not ended (at rest, what is written is taken up). */
bool rotationUnderWay(api::Phase phase) {
  switch (phase) {
    case api::Phase::kStaging:
    case api::Phase::kAwaitingAdoption:
    case api::Phase::kSwapping:
    case api::Phase::kVerifying:
    case api::Phase::kDraining:
    case api::Phase::kPruning:
    case api::Phase::kBlocked:
    case api::Phase::kRollingBack:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool followsCaSecret(const api::CertificateRotation& r) {
  return r.spec.ca.secretRef && r.spec.ca.secretRef->onChange == api::CaSourceChange::kRotate;
}

StatusOr<TriggerDecision> detectCaSecretChange(RotationContext& ctx, const api::CertificateRotation& r) {
  if (!followsCaSecret(r)) return TriggerDecision{};
  ASSIGN_OR_RETURN(const std::optional<pki::Certificate> written, caSecretCertificate(ctx, r));
  if (!written) return TriggerDecision{};
  const std::string fingerprint = written->fingerprint().toString();
  // Status names the current CA: its key is read only when the Secret holds another certificate.
  const auto& shown = r.status.ca.current;
  if (!shown || shown->fingerprint == fingerprint || fingerprint == r.status.caSecret.taken) return TriggerDecision{};
  ASSIGN_OR_RETURN(auto stored, ctx.authorities.readAuthorities(r));
  ASSIGN_OR_RETURN(const pki::CertificateAuthority current, requireAuthority(stored.value.current, "current"));
  if (current.certificate().fingerprint() == written->fingerprint()) return TriggerDecision{};
  const std::string secret = "Secret " + r.metadata.ns + "/" + r.spec.ca.secretRef->name;
  if (written->matchesKey(current.key())) {
    return TriggerDecision{std::string(triggers::kCaSourceRenewed),
                           "The CA was re-issued with its key in " + secret + " (" + fingerprint + ")", std::nullopt,
                           fingerprint};
  }
  return TriggerDecision{std::string(triggers::kCaChanged),
                         "A new CA was written into " + secret + " (" + fingerprint + ")", std::nullopt, fingerprint};
}

Status notePendingCaSecret(RotationContext& ctx, api::CertificateRotation& r) {
  if (!followsCaSecret(r) || !rotationUnderWay(r.status.phase)) return okStatus();
  ASSIGN_OR_RETURN(const std::optional<pki::Certificate> written, caSecretCertificate(ctx, r));
  if (!written) return okStatus();
  const std::string fingerprint = written->fingerprint().toString();
  const api::CaStatus& ca = r.status.ca;
  const bool brought = fingerprint == r.status.caSecret.taken ||
                       (ca.current && ca.current->fingerprint == fingerprint) ||
                       (ca.next && ca.next->fingerprint == fingerprint);
  if (brought || fingerprint == r.status.caSecret.pending) return okStatus();
  r.status.caSecret.pending = fingerprint;
  ctx.events.record(r, EventType::kNormal, "CASecretChangePending",
                    "A CA (" + fingerprint + ") was written into Secret " + r.metadata.ns + "/" +
                        r.spec.ca.secretRef->name + " during this rotation: it is taken up when the rotation ends");
  return okStatus();
}

}  // namespace rotor::reconcilers
