#include "reconcilers/restore.h"

#include <algorithm>

#include "controller/pki/bundle.h"
#include "reconcilers/material.h"

namespace rotor::reconcilers {

const std::optional<store::AuthorityMaterial>* issuerSlot(const store::Authorities& authorities,
                                                          const pki::Certificate& leaf) {
  for (const auto* slot : {&authorities.current, &authorities.next, &authorities.previous}) {
    auto ca = authorityIn(*slot);
    if (ca.ok() && *ca && leaf.isSignedBy((*ca)->certificate())) {
      return slot;
    }
  }
  return nullptr;
}

Status checkRestorable(store::AuthorityStore& authorities, const api::CertificateRotation& r,
                       const store::Snapshot& snapshot) {
  const auto unusable = [&](const std::string& why) {
    return failedPrecondition("snapshot \"" + snapshot.name + "\" cannot be restored: " + why);
  };
  if (!snapshot.bundlePem.empty() && !pki::parsePemBundle(snapshot.bundlePem).ok()) {
    return unusable("its trust bundle does not parse");
  }
  ASSIGN_OR_RETURN(auto held, authorities.readAuthorities(r));
  for (const api::ServerSpec& server : r.spec.servers) {
    const auto saved = snapshot.servers.find(server.name);
    if (saved == snapshot.servers.end()) {
      continue;
    }
    auto chain = chainOf(saved->second);
    if (!chain.ok()) {
      return unusable("server \"" + server.name + "\": " + chain.status().message());
    }
    if (issuerSlot(held.value, chain->front()) == nullptr) {
      return unusable("server \"" + server.name +
                      "\"'s certificate was issued by a CA this rotation no longer holds (was it deleted and "
                      "created again?)");
    }
  }
  return okStatus();
}

StatusOr<std::optional<pki::Certificate>> snapshotIssuer(store::AuthorityStore& authorities,
                                                         const api::CertificateRotation& r,
                                                         const store::Snapshot& snapshot) {
  for (const api::ServerSpec& server : r.spec.servers) {
    const auto saved = snapshot.servers.find(server.name);
    if (saved == snapshot.servers.end()) {
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, chainOf(saved->second));
    ASSIGN_OR_RETURN(auto held, authorities.readAuthorities(r));
    const std::optional<store::AuthorityMaterial>* slot = issuerSlot(held.value, chain.front());
    if (slot == nullptr) {
      return failedPrecondition("the snapshot's certificates were issued by a CA this rotation no longer holds");
    }
    ASSIGN_OR_RETURN(pki::CertificateAuthority issuer, requireAuthority(*slot, "issuer"));
    return std::optional<pki::Certificate>(issuer.certificate());
  }
  return std::optional<pki::Certificate>();
}

StatusOr<std::optional<pki::Certificate>> prunedIssuerOf(store::AuthorityStore& authorities,
                                                         store::BundleStore& bundles, const api::CertificateRotation& r,
                                                         const store::Snapshot& snapshot) {
  ASSIGN_OR_RETURN(std::optional<pki::Certificate> issuer, snapshotIssuer(authorities, r, snapshot));
  if (!issuer) {
    return issuer;
  }
  ASSIGN_OR_RETURN(auto bundle, bundles.readBundle(r));
  std::vector<pki::Certificate> trusted;
  if (bundle.value) {
    ASSIGN_OR_RETURN(trusted, pki::parsePemBundle(*bundle.value));
  }
  const Fingerprint wanted = issuer->fingerprint();
  const bool held =
      std::any_of(trusted.begin(), trusted.end(), [&](const pki::Certificate& c) { return c.fingerprint() == wanted; });
  return held ? std::optional<pki::Certificate>() : issuer;
}

}  // namespace rotor::reconcilers
