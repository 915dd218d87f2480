#include "reconcilers/restore.h"

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

Status checkRestorable(store::Store& store, const api::CertificateRotation& r, const store::Snapshot& snapshot) {
  const auto unusable = [&](const std::string& why) {
    return failedPrecondition("snapshot \"" + snapshot.name + "\" cannot be restored: " + why);
  };
  if (!snapshot.bundlePem.empty() && !pki::parsePemBundle(snapshot.bundlePem).ok()) {
    return unusable("its trust bundle does not parse");
  }
  ASSIGN_OR_RETURN(auto authorities, store.readAuthorities(r));
  for (const api::ServerSpec& server : r.spec.servers) {
    const auto saved = snapshot.servers.find(server.name);
    if (saved == snapshot.servers.end()) {
      continue;
    }
    auto chain = chainOf(saved->second);
    if (!chain.ok()) {
      return unusable("server \"" + server.name + "\": " + chain.status().message());
    }
    if (issuerSlot(authorities.value, chain->front()) == nullptr) {
      return unusable("server \"" + server.name +
                      "\"'s certificate was issued by a CA this rotation no longer holds (was it deleted and "
                      "created again?)");
    }
  }
  return okStatus();
}

}  // namespace rotor::reconcilers
