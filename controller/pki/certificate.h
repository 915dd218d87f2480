#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/fingerprint.h"
#include "controller/common/status.h"
#include "controller/pki/handles.h"
#include "controller/pki/key.h"

namespace rotor::pki {

/** An X.509 certificate. Immutable; copies share the underlying X509 (X509_up_ref). */
class Certificate {
public:
  /** The first PEM CERTIFICATE block (parsePemBundle reads many, strictly). kInvalidArgument
   *  with OpenSSL's reason when there is none or it does not decode. */
  static StatusOr<Certificate> fromPem(std::string_view pem);
  /** DER bytes, all of them: trailing bytes or truncation are kInvalidArgument. */
  static StatusOr<Certificate> fromDer(std::span<const uint8_t> der);
  /** Takes ownership of `x509` (must not be null). */
  static Certificate adopt(X509Ptr x509);

  std::string toPem() const;
  std::vector<uint8_t> toDer() const;

  /** SHA-256 over the DER encoding: the identity shown in status and reported by agents. */
  Fingerprint fingerprint() const;
  /** SHA-256 over the DER SubjectPublicKeyInfo. */
  Fingerprint publicKeyFingerprint() const;
  /** RFC 2253 form, e.g. "CN=proxy.example.com,O=Example". */
  std::string subject() const;
  std::string issuer() const;
  /** The last CN of the subject, or "". */
  std::string commonName() const;
  /** DNS names from subjectAltName, in certificate order. */
  std::vector<std::string> dnsNames() const;
  /** IP addresses from subjectAltName in canonical text form ("10.0.0.1", "2001:db8::1"). */
  std::vector<std::string> ipAddresses() const;
  SystemTime notBefore() const;
  SystemTime notAfter() const;
  /** Upper-case hex serial number. */
  std::string serialHex() const;
  /** A CA as OpenSSL judges one: basicConstraints CA:TRUE (or a v1 self-signed root), and
   *  keyCertSign among its key usages when it names any. */
  bool isCa() const;
  /** The basicConstraints extension is present and says CA:TRUE. */
  bool hasCaBasicConstraints() const;
  /** keyCertSign is among the key usages, or the certificate names no key usage (RFC 5280: any). */
  bool mayUseKeyForCertSign() const;
  /** Subject equals issuer and the signature verifies with the certificate's own key. */
  bool isSelfSigned() const;
  /** Hex subjectKeyIdentifier / authorityKeyIdentifier keyid, or "" when absent. */
  std::string subjectKeyId() const;
  std::string authorityKeyId() const;
  /** True when `key` is the private half of this certificate's public key. */
  bool matchesKey(const PrivateKey& key) const;
  /** True when `issuerCert`'s key verifies this certificate's signature. */
  bool isSignedBy(const Certificate& issuerCert) const;

  Certificate(const Certificate& other);
  Certificate& operator=(const Certificate& other);
  Certificate(Certificate&&) noexcept = default;
  Certificate& operator=(Certificate&&) noexcept = default;

  /** Borrowed handle for the other pki units. */
  X509* get() const { return x509_.get(); }

private:
  explicit Certificate(X509Ptr x509) : x509_(std::move(x509)) {}
  X509Ptr x509_;
};

/** RFC 2253 subject of a borrowed X509. */
std::string subjectOf(const X509* x);

/** Converts an ASN1_TIME to a time point (UTC). */
SystemTime fromAsn1Time(const ASN1_TIME* t);

}  // namespace rotor::pki
