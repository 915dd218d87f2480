#pragma once

#include <string>
#include <vector>

#include "controller/pki/authority.h"
#include "controller/pki/key.h"

namespace rotor::testing {

/** 2026-11-22T10:15:00Z: the instant every PKI test issues at. */
inline SystemTime fixtureNow() { return std::chrono::system_clock::from_time_t(1795342500); }

inline pki::CertificateAuthority makeCa(const std::string& cn, Duration validity = std::chrono::hours(24 * 365),
                                        KeySpec key = {}, SystemTime now = fixtureNow()) {
  return std::move(pki::CertificateAuthority::generate({cn, validity, key}, now)).value();
}

inline pki::LeafSpec leafSpec(const std::string& cn = "proxy.example.com") {
  return {cn, {cn, "proxy"}, {"127.0.0.1", "::1"}, std::chrono::hours(24 * 90)};
}

struct IssuedLeaf {
  pki::PrivateKey key;
  pki::Certificate certificate;
};

inline IssuedLeaf issueLeaf(const pki::CertificateAuthority& ca, const pki::LeafSpec& spec = leafSpec(),
                            SystemTime now = fixtureNow()) {
  pki::PrivateKey key = std::move(pki::PrivateKey::generate({})).value();
  pki::Certificate cert = std::move(ca.issue(spec, key, now)).value();
  return {key, cert};
}

}  // namespace rotor::testing
