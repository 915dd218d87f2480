// Pending and Issuing: bring a new rotation to Ready at revision 1.

#include "controller/pki/bundle.h"
#include "reconcilers/bundle.h"
#include "reconcilers/material.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/** The CA that issues: the stored one, else a generated or imported one, stored first. */
StatusOr<pki::CertificateAuthority> ensureAuthority(RotationContext& ctx, const CertificateRotation& r,
                                                    store::Versioned<store::Authorities>& stored,
                                                    std::vector<std::string>& failedChecks) {
  if (stored.value.current) {
    return requireAuthority(stored.value.current, "current");
  }
  ASSIGN_OR_RETURN(pki::CertificateAuthority ca, authorityFromSource(ctx, r, &failedChecks));
  stored.value.current = store::AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  RETURN_IF_ERROR(ctx.authorities.writeAuthorities(r, stored.value, stored.version));
  return ca;
}

/** Issues a certificate for a server that has none; material already there is kept. */
Status ensureServed(RotationContext& ctx, const CertificateRotation& r, const api::ServerSpec& server,
                    const pki::CertificateAuthority& ca) {
  ASSIGN_OR_RETURN(auto served, ctx.servers.readServed(r, server.name));
  if (served.value) {
    return okStatus();
  }
  const api::CertificateSpec& c = r.spec.certificate;
  ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::generate(c.privateKey));
  ASSIGN_OR_RETURN(pki::Certificate leaf,
                   ca.issue({c.commonName, c.dnsNames, c.ipAddresses, c.validity}, key, ctx.clock.now()));
  return ctx.servers.writeServed(r, server.name, {leaf.toPem(), key.toPem(), ca.certificate().toPem()}, served.version);
}

}  // namespace

StatusOr<Outcome> pending(RotationContext&, CertificateRotation&) {
  return Outcome::moveTo(api::Phase::kIssuing, "Accepted", "Issuing CA, trust bundle and server certificates");
}

StatusOr<Outcome> issuing(RotationContext& ctx, CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto authorities, ctx.authorities.readAuthorities(r));
  std::vector<std::string> failedChecks;
  auto ca = ensureAuthority(ctx, r, authorities, failedChecks);
  if (!ca.ok()) {
    if (isCaSourceProblem(ca.status())) {
      // The operator's CA is missing, unreadable or refused: Degraded, with a Warning, until it is fixed.
      Outcome refused = Outcome::refuse(std::chrono::minutes(1), "CANotReady", ca.status().message());
      refused.failedChecks = std::move(failedChecks);
      return refused;
    }
    return ca.status();
  }
  // The bundle first: a client must trust the CA before any server presents a certificate from it.
  RETURN_IF_ERROR(addToBundle(ctx.bundles, r, std::span(&ca->certificate(), 1)));
  for (const api::ServerSpec& server : r.spec.servers) {
    RETURN_IF_ERROR(ensureServed(ctx, r, server, *ca));
  }
  // A server that is not running yet will read its files when it starts: at bootstrap no client
  // depends on earlier material, so a failed reload is reported, not fatal.
  std::string notReloaded;
  for (const api::ServerSpec& server : r.spec.servers) {
    if (Status s = ctx.servers.reload(r, server.name); !s.ok()) {
      if (s.code() == Code::kUnavailable) return s;
      notReloaded += "; server \"" + server.name +
                     "\" was not reloaded (not running yet? it reads these files when it starts): " + s.message();
    }
  }
  RETURN_IF_ERROR(refreshCaStatus(r.status, authorities.value));
  RETURN_IF_ERROR(refreshServerStatus(ctx.servers, r, authorities.value));
  r.status.revision = std::max<int64_t>(r.status.revision, 1);
  r.status.caSourceHash = caSourceHash(r.spec.ca);
  // Requests present at creation are part of what was created, not a rotation to run next.
  r.status.handled.rotate = annotationOf(r, api::kRotateAnnotation);
  r.status.handled.renew = annotationOf(r, api::kRenewAnnotation);
  r.status.handled.renewCa = annotationOf(r, api::kRenewCaAnnotation);
  return Outcome::moveTo(api::Phase::kReady, "Issued", std::string(kUpToDateMessage) + notReloaded);
}

}  // namespace rotor::reconcilers::phases
