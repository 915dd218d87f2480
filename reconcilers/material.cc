#include "reconcilers/material.h"

#include "controller/pki/bundle.h"

namespace rotor::reconcilers {

using api::CertificateRotation;

api::CertificateRef refOf(const pki::Certificate& c) { return {c.fingerprint().toString(), c.notAfter()}; }

StatusOr<std::optional<pki::CertificateAuthority>> authorityIn(const std::optional<store::AuthorityMaterial>& slot) {
  if (!slot) {
    return std::optional<pki::CertificateAuthority>();
  }
  ASSIGN_OR_RETURN(pki::CertificateAuthority ca,
                   pki::CertificateAuthority::fromPem(slot->certificatePem, slot->keyPem));
  return std::optional<pki::CertificateAuthority>(std::move(ca));
}

StatusOr<pki::CertificateAuthority> requireAuthority(const std::optional<store::AuthorityMaterial>& slot,
                                                     std::string_view role) {
  ASSIGN_OR_RETURN(std::optional<pki::CertificateAuthority> ca, authorityIn(slot));
  if (!ca) {
    return failedPrecondition("no " + std::string(role) + " CA is stored");
  }
  return std::move(*ca);
}

StatusOr<pki::CertificateAuthority> authorityFromSource(RotationContext& ctx, const CertificateRotation& r) {
  if (r.spec.ca.generate) {
    const api::CaGenerateSpec& g = *r.spec.ca.generate;
    return pki::CertificateAuthority::generate({g.commonName, g.validity, g.privateKey}, ctx.clock.now());
  }
  ASSIGN_OR_RETURN(store::AuthorityMaterial custom, ctx.store.readCustomAuthority(r));
  StatusOr<pki::CertificateAuthority> ca = pki::CertificateAuthority::fromPem(custom.certificatePem, custom.keyPem);
  if (ca.ok()) {
    return ca;
  }
  // Name the operator's input that is wrong: the field, and the file or Secret it points at.
  const bool certificateBad = !pki::Certificate::fromPem(custom.certificatePem).ok();
  const bool keyBad = !certificateBad && !pki::PrivateKey::fromPem(custom.keyPem).ok();
  std::string where;
  if (r.spec.ca.files) {
    const api::CaFilesSpec& f = *r.spec.ca.files;
    where = certificateBad ? "spec.ca.files.certFile \"" + f.certFile + "\""
            : keyBad       ? "spec.ca.files.keyFile \"" + f.keyFile + "\""
                           : "spec.ca.files (\"" + f.certFile + "\", \"" + f.keyFile + "\")";
  } else {
    where = "spec.ca.secretRef (Secret \"" + r.spec.ca.secretRef->name + "\"" +
            (certificateBad ? ", tls.crt"
             : keyBad       ? ", tls.key"
                            : "") +
            ")";
  }
  return Status(ca.status().code(), where + ": " + ca.status().message());
}

StatusOr<std::vector<pki::Certificate>> chainOf(const store::ServedMaterial& material) {
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, pki::parsePemBundle(material.certificateChainPem));
  if (chain.empty()) {
    return failedPrecondition("the served certificate file holds no certificate");
  }
  return chain;
}

}  // namespace rotor::reconcilers
