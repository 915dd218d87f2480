#include "reconcilers/status_refresh.h"

#include "reconcilers/material.h"

namespace rotor::reconcilers {

using api::CertificateRotation;

const api::ServerStatus* findServerStatus(const api::RotationStatus& status, std::string_view server) {
  for (const api::ServerStatus& s : status.servers) {
    if (s.name == server) {
      return &s;
    }
  }
  return nullptr;
}

api::ServerStatus& serverStatusOf(api::RotationStatus& status, const std::string& server) {
  for (api::ServerStatus& s : status.servers) {
    if (s.name == server) {
      return s;
    }
  }
  status.servers.push_back({});
  status.servers.back().name = server;
  return status.servers.back();
}

Status refreshServerStatus(store::ServerStore& servers, CertificateRotation& r, const store::Authorities& authorities) {
  std::vector<pki::Certificate> issuers;
  for (const auto* slot : {&authorities.current, &authorities.next, &authorities.previous}) {
    if (*slot) {
      ASSIGN_OR_RETURN(pki::Certificate c, pki::Certificate::fromPem((*slot)->certificatePem));
      issuers.push_back(std::move(c));
    }
  }
  std::vector<api::ServerStatus> refreshed;
  for (const api::ServerSpec& spec : r.spec.servers) {
    api::ServerStatus entry = serverStatusOf(r.status, spec.name);
    ASSIGN_OR_RETURN(auto served, servers.readServed(r, spec.name));
    if (served.value) {
      ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain, chainOf(*served.value));
      entry.fingerprint = chain.front().fingerprint().toString();
      entry.notAfter = chain.front().notAfter();
      entry.issuerFingerprint.clear();
      for (const pki::Certificate& issuer : issuers) {
        if (chain.front().isSignedBy(issuer)) {
          entry.issuerFingerprint = issuer.fingerprint().toString();
        }
      }
    }
    refreshed.push_back(std::move(entry));
  }
  r.status.servers = std::move(refreshed);
  return okStatus();
}

Status refreshCaStatus(api::RotationStatus& status, const store::Authorities& authorities) {
  const auto refFor =
      [](const std::optional<store::AuthorityMaterial>& slot) -> StatusOr<std::optional<api::CertificateRef>> {
    if (!slot) {
      return std::optional<api::CertificateRef>();
    }
    ASSIGN_OR_RETURN(pki::Certificate c, pki::Certificate::fromPem(slot->certificatePem));
    return std::optional<api::CertificateRef>(refOf(c));
  };
  ASSIGN_OR_RETURN(status.ca.current, refFor(authorities.current));
  ASSIGN_OR_RETURN(status.ca.next, refFor(authorities.next));
  ASSIGN_OR_RETURN(status.ca.previous, refFor(authorities.previous));
  return okStatus();
}

}  // namespace rotor::reconcilers
