#include "reconcilers/material.h"

#include <algorithm>

#include "controller/pki/bundle.h"
#include "controller/pki/compatibility.h"
#include "reconcilers/prechecks.h"

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

namespace {

enum class SourcePart { kCertificate, kKey, kBoth };

/** The operator's input a problem is in: the field, and the file or Secret key it points at. */
std::string sourceField(const CertificateRotation& r, SourcePart part) {
  if (r.spec.ca.files) {
    const api::CaFilesSpec& f = *r.spec.ca.files;
    switch (part) {
      case SourcePart::kCertificate:
        return "spec.ca.files.certFile \"" + f.certFile + "\"";
      case SourcePart::kKey:
        return "spec.ca.files.keyFile \"" + f.keyFile + "\"";
      case SourcePart::kBoth:
        return "spec.ca.files (\"" + f.certFile + "\", \"" + f.keyFile + "\")";
    }
  }
  const std::string secret = "spec.ca.secretRef (Secret \"" + r.spec.ca.secretRef->name + "\"";
  switch (part) {
    case SourcePart::kCertificate:
      return secret + ", tls.crt)";
    case SourcePart::kKey:
      return secret + ", tls.key)";
    case SourcePart::kBoth:
      return secret + ")";
  }
  return secret + ")";
}

}  // namespace

StatusOr<pki::CertificateAuthority> authorityFromSource(RotationContext& ctx, const CertificateRotation& r,
                                                        std::vector<std::string>* failedChecks) {
  if (r.spec.ca.generate) {
    const api::CaGenerateSpec& g = *r.spec.ca.generate;
    return pki::CertificateAuthority::generate({g.commonName, g.validity, g.privateKey}, ctx.clock.now());
  }
  ASSIGN_OR_RETURN(store::AuthorityMaterial custom, ctx.authorities.readCustomAuthority(r));
  StatusOr<pki::Certificate> certificate = pki::Certificate::fromPem(custom.certificatePem);
  if (!certificate.ok()) {
    return Status(certificate.status().code(),
                  sourceField(r, SourcePart::kCertificate) + ": " + certificate.status().message());
  }
  StatusOr<pki::PrivateKey> key = pki::PrivateKey::fromPem(custom.keyPem);
  if (!key.ok()) return Status(key.status().code(), sourceField(r, SourcePart::kKey) + ": " + key.status().message());
  // Checked before anything reaches a bundle: clients must never be asked to trust a CA that
  // cannot serve them.
  const std::vector<pki::Finding> findings =
      pki::checkImportedCa({*certificate, *key, r.spec.certificate.validity, ctx.clock.now()});
  if (!findings.empty()) {
    const bool keyMismatch = std::any_of(findings.begin(), findings.end(),
                                         [](const pki::Finding& f) { return f.check == pki::checks::kKeyMatches; });
    if (failedChecks != nullptr) {
      for (const pki::Finding& f : findings) failedChecks->push_back(f.check);
    }
    return failedPrecondition(sourceField(r, keyMismatch ? SourcePart::kBoth : SourcePart::kCertificate) +
                              " is refused: " + describeFindings(findings));
  }
  return pki::CertificateAuthority::fromPem(custom.certificatePem, custom.keyPem);
}

bool isCaSourceProblem(const Status& status) {
  const Code code = status.code();
  return code == Code::kNotFound || code == Code::kInvalidArgument || code == Code::kFailedPrecondition;
}

StatusOr<std::vector<pki::Certificate>> chainOf(const store::ServedMaterial& material) {
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, pki::parsePemBundle(material.certificateChainPem));
  if (chain.empty()) {
    return failedPrecondition("the served certificate file holds no certificate");
  }
  return chain;
}

}  // namespace rotor::reconcilers
