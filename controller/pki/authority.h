#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/key_spec.h"
#include "controller/common/status.h"
#include "controller/pki/certificate.h"
#include "controller/pki/key.h"

namespace rotor::pki {

/** What a generated root CA looks like. */
struct CaSpec {
  std::string commonName;
  Duration validity = std::chrono::hours(24 * 365 * 5);
  KeySpec key;
};

/** What an issued server certificate looks like. */
struct LeafSpec {
  std::string commonName;
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;  // IPv4 or IPv6 text
  Duration validity = std::chrono::hours(24 * 90);
};

/** Certificates start this long before "now" so that clients with slightly slow clocks accept them. */
inline constexpr Duration kBackdate = std::chrono::minutes(5);

/** A CA certificate with its private key: it issues server certificates and cross-signs. */
class CertificateAuthority {
public:
  /** A new self-signed root: CA:TRUE (critical), keyCertSign|cRLSign, SKI, AKI. */
  static StatusOr<CertificateAuthority> generate(const CaSpec& spec, SystemTime now);
  /**
   * Imports a custom CA. kInvalidArgument when either PEM is unreadable, the certificate is not a
   * CA (basicConstraints CA:TRUE), or the key does not belong to the certificate.
   */
  static StatusOr<CertificateAuthority> fromPem(std::string_view certPem, std::string_view keyPem);

  /**
   * This root re-issued with the same key and subject (so the same key identifier), valid from now
   * for `validity`: a client that trusts either certificate verifies what either signs, for as
   * long as the certificate it trusts is valid. kFailedPrecondition when this CA is not a
   * self-signed root (an intermediate's issuer must re-issue it).
   */
  StatusOr<CertificateAuthority> renew(Duration validity, SystemTime now) const;

  /**
   * Issues a server certificate for `subjectKey`'s public half: CA:FALSE, digitalSignature
   * (+keyEncipherment for RSA), EKU serverAuth, SKI, AKI, DNS/IP SANs. notAfter is clamped to the
   * CA's own notAfter so that the leaf never outlives its issuer. kInvalidArgument for a bad IP,
   * an empty name set, or a CA that has expired at `now`.
   */
  StatusOr<Certificate> issue(const LeafSpec& spec, const PrivateKey& subjectKey, SystemTime now) const;

  /**
   * Cross-signs `otherRoot`: a CA certificate with otherRoot's subject, public key and SKI,
   * issued by this CA. A client that trusts only this CA can then verify chains that end in
   * `otherRoot`. Validity is otherRoot's, clamped to this CA's.
   */
  StatusOr<Certificate> crossSign(const Certificate& otherRoot, SystemTime now) const;

  const Certificate& certificate() const { return certificate_; }
  const PrivateKey& key() const { return key_; }

private:
  CertificateAuthority(Certificate certificate, PrivateKey key)
      : certificate_(std::move(certificate)), key_(std::move(key)) {}
  Certificate certificate_;
  PrivateKey key_;
};

}  // namespace rotor::pki
