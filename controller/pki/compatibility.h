#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/pki/certificate.h"
#include "controller/pki/key.h"

namespace rotor::pki {

/**
 * The names of the compatibility checks. They are stable: conditions and the
 * rotor_precheck_failures_total{check} metric carry them.
 */
namespace checks {
inline constexpr std::string_view kKeyMatches = "key_matches";
inline constexpr std::string_view kCaValid = "ca_valid";
inline constexpr std::string_view kChainsToRoot = "chains_to_root";
inline constexpr std::string_view kSubject = "subject";
inline constexpr std::string_view kDnsNames = "dns_names";
inline constexpr std::string_view kIpAddresses = "ip_addresses";
inline constexpr std::string_view kValidityWithinCa = "validity_within_ca";
// An imported CA, before it reaches any trust bundle:
inline constexpr std::string_view kCaNotYetValid = "ca_not_yet_valid";
inline constexpr std::string_view kCaExpired = "ca_expired";
inline constexpr std::string_view kCaOutlivesCertificates = "ca_outlives_certificates";
inline constexpr std::string_view kCaBasicConstraints = "ca_basic_constraints";
inline constexpr std::string_view kCaKeyUsage = "ca_key_usage";
}  // namespace checks

struct Finding {
  std::string check;    // one of checks::*
  std::string message;  // for humans; never key material
};

/** What a candidate server certificate is checked against before it replaces the served one. */
struct CompatibilityInput {
  const Certificate& candidate;
  std::span<const Certificate> intermediates;  // the chain served after the leaf
  const PrivateKey* key = nullptr;             // the candidate's key, checked when given
  const Certificate* previous = nullptr;       // the certificate it replaces, when there is one
  const Certificate& issuingCa;                // the CA expected to have issued it
  std::span<const Certificate> roots;          // each must accept the chain (new CA; old CA if cross-signed)
  SystemTime at;
};

/**
 * Runs every check and returns all failures (empty: compatible). Checks: the key matches; the
 * issuing CA is valid at `at`; the chain verifies against each root; subject, DNS SAN set and IP
 * SAN set equal the previous certificate's (order-insensitive); notAfter is not after the CA's.
 */
std::vector<Finding> checkCompatibility(const CompatibilityInput& input);

/** An operator's CA, checked before rotor puts it in a trust bundle or issues from it. */
struct ImportedCaInput {
  const Certificate& certificate;
  const PrivateKey& key;
  /** The validity of the server certificates it will issue (spec.certificate.validity). */
  Duration certificateValidity;
  SystemTime at;
};

/**
 * Every reason the CA may not be used, empty when it may: not valid yet, expired, expiring
 * before a certificate issued now would (ca_outlives_certificates), no basicConstraints CA:TRUE,
 * a keyUsage without keyCertSign, a key that is not the certificate's (key_matches).
 */
std::vector<Finding> checkImportedCa(const ImportedCaInput& input);

}  // namespace rotor::pki
