#include "reconcilers/bootstrap.h"

#include "controller/pki/authority.h"
#include "controller/pki/bundle.h"

namespace rotor::reconcilers {
namespace {

using api::CertificateRotation;

api::CertificateRef refOf(const pki::Certificate& c) { return {c.fingerprint().toString(), c.notAfter()}; }

StatusOr<pki::CertificateAuthority> ensureAuthority(store::Store& store, const Clock& clock,
                                                    const CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto stored, store.readAuthorities(r));
  if (stored.value.current) {
    return pki::CertificateAuthority::fromPem(stored.value.current->certificatePem, stored.value.current->keyPem);
  }
  if (!r.spec.ca.generate) {
    return failedPrecondition("bootstrap can only generate a CA (spec.ca.generate); importing spec.ca.files or "
                              "spec.ca.secretRef is not supported yet");
  }
  const api::CaGenerateSpec& g = *r.spec.ca.generate;
  ASSIGN_OR_RETURN(pki::CertificateAuthority ca,
                   pki::CertificateAuthority::generate({g.commonName, g.validity, g.privateKey}, clock.now()));
  store::Authorities authorities = stored.value;
  authorities.current = store::AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  RETURN_IF_ERROR(store.writeAuthorities(r, authorities, stored.version));
  return ca;
}

Status ensureBundleHolds(store::Store& store, const CertificateRotation& r, const pki::Certificate& caCert) {
  ASSIGN_OR_RETURN(auto bundle, store.readBundle(r));
  std::vector<pki::Certificate> current;
  if (bundle.value) {
    ASSIGN_OR_RETURN(current, pki::parsePemBundle(*bundle.value));
  }
  std::vector<pki::Certificate> wanted = pki::unionOf(current, std::span(&caCert, 1));
  if (wanted.size() == current.size()) {
    return okStatus();
  }
  return store.writeBundle(r, pki::writePemBundle(wanted), bundle.version);
}

StatusOr<api::ServerStatus> ensureServed(store::Store& store, const Clock& clock, const CertificateRotation& r,
                                         const api::ServerSpec& server, const pki::CertificateAuthority& ca) {
  ASSIGN_OR_RETURN(auto served, store.readServed(r, server.name));
  if (!served.value) {
    const api::CertificateSpec& c = r.spec.certificate;
    ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::generate(c.privateKey));
    ASSIGN_OR_RETURN(pki::Certificate leaf,
                     ca.issue({c.commonName, c.dnsNames, c.ipAddresses, c.validity}, key, clock.now()));
    store::ServedMaterial material{leaf.toPem(), key.toPem(), ca.certificate().toPem()};
    RETURN_IF_ERROR(store.writeServed(r, server.name, material, served.version));
    served.value = material;
  }
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, pki::parsePemBundle(served.value->certificateChainPem));
  if (chain.empty()) {
    return failedPrecondition("server \"" + server.name + "\" presents no certificate");
  }
  return api::ServerStatus{server.name, chain.front().fingerprint().toString(), chain.front().notAfter(),
                           ca.certificate().fingerprint().toString()};
}

}  // namespace

Status bootstrapRotation(store::Store& store, const Clock& clock, CertificateRotation& r) {
  if (r.status.phase == api::Phase::kPending) {
    r.status.phase = api::Phase::kIssuing;
    r.status.phaseStartedAt = truncateToSeconds(clock.now());
    RETURN_IF_ERROR(store.updateRotationStatus(r));
  }
  ASSIGN_OR_RETURN(pki::CertificateAuthority ca, ensureAuthority(store, clock, r));
  // The bundle first: a client must trust the CA before any server presents a certificate from it.
  RETURN_IF_ERROR(ensureBundleHolds(store, r, ca.certificate()));
  std::vector<api::ServerStatus> servers;
  for (const api::ServerSpec& server : r.spec.servers) {
    ASSIGN_OR_RETURN(api::ServerStatus status, ensureServed(store, clock, r, server, ca));
    servers.push_back(std::move(status));
  }
  for (const api::ServerSpec& server : r.spec.servers) {
    RETURN_IF_ERROR(store.reload(r, server.name));
  }
  const SystemTime now = truncateToSeconds(clock.now());
  api::RotationStatus& s = r.status;
  s.phase = api::Phase::kReady;
  s.revision = std::max<int64_t>(s.revision, 1);
  s.observedGeneration = r.metadata.generation;
  s.ca.current = refOf(ca.certificate());
  s.servers = std::move(servers);
  s.phaseStartedAt = now;
  s.message = "Issued CA and server certificates";
  s.conditions = {{std::string(api::kConditionReady), "True", r.metadata.generation, "Bootstrapped",
                   "Every server presents a certificate trusted by the bundle", now}};
  return store.updateRotationStatus(r);
}

}  // namespace rotor::reconcilers
