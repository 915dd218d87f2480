#pragma once

// The chain of checks a new server certificate passes before it replaces the served one. Each
// check has a stable name (pki::checks): conditions and rotor_precheck_failures_total{check}
// carry it.

#include <optional>
#include <vector>

#include "controller/pki/authority.h"
#include "controller/pki/compatibility.h"

namespace rotor::reconcilers {

struct SwapCandidate {
  const pki::Certificate& leaf;
  std::span<const pki::Certificate> intermediates;  // e.g. the new CA cross-signed by the old
  const pki::PrivateKey& key;
  const pki::Certificate* previous;  // the certificate it replaces, when any
  const pki::CertificateAuthority& issuer;
  /** With crossSign: the old root, which must accept the chain as well. */
  const pki::Certificate* crossSignedBy;
};

/**
 * Runs every check (key_matches, ca_valid, chains_to_root for the issuer and, with cross-signing,
 * for the old root, subject, dns_names, ip_addresses, validity_within_ca) and returns every
 * failure in chain order; empty when the candidate may be installed.
 */
std::vector<pki::Finding> runSwapPrechecks(const SwapCandidate& candidate, SystemTime now);

/** "check: message; check: message" for conditions. */
std::string describeFindings(const std::vector<pki::Finding>& findings);

}  // namespace rotor::reconcilers
