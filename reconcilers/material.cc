#include "reconcilers/material.h"

#include <algorithm>

#include "controller/pki/bundle.h"
#include "controller/pki/key.h"

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

StatusOr<store::Versioned<std::vector<pki::Certificate>>> readBundleCertificates(RotationContext& ctx,
                                                                                 const CertificateRotation& r) {
  ASSIGN_OR_RETURN(auto bundle, ctx.store.readBundle(r));
  store::Versioned<std::vector<pki::Certificate>> out{{}, bundle.version};
  if (bundle.value) {
    ASSIGN_OR_RETURN(out.value, pki::parsePemBundle(*bundle.value));
  }
  return out;
}

Status addToBundle(RotationContext& ctx, const CertificateRotation& r, std::span<const pki::Certificate> certificates) {
  ASSIGN_OR_RETURN(auto bundle, readBundleCertificates(ctx, r));
  std::vector<pki::Certificate> wanted = pki::unionOf(bundle.value, certificates);
  if (wanted.size() == bundle.value.size()) {
    return okStatus();
  }
  return ctx.store.writeBundle(r, pki::writePemBundle(wanted), bundle.version);
}

Status setBundle(RotationContext& ctx, const CertificateRotation& r, const std::string& pem) {
  ASSIGN_OR_RETURN(auto bundle, readBundleCertificates(ctx, r));
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> wanted, pki::parsePemBundle(pem));
  auto have = pki::fingerprints(bundle.value);
  auto want = pki::fingerprints(wanted);
  std::sort(have.begin(), have.end());
  std::sort(want.begin(), want.end());
  if (have == want) {
    return okStatus();
  }
  return ctx.store.writeBundle(r, pki::writePemBundle(wanted), bundle.version);
}

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

Status refreshServerStatus(RotationContext& ctx, CertificateRotation& r, const store::Authorities& authorities) {
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
    ASSIGN_OR_RETURN(auto served, ctx.store.readServed(r, spec.name));
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

std::string snapshotName(const CertificateRotation& r, std::string_view purpose) {
  const std::string retry = r.status.attempt > 1 ? "-retry" + std::to_string(r.status.attempt) : "";
  return r.metadata.name + "-r" + std::to_string(r.status.revision) + retry + "-" + std::string(purpose);
}

StatusOr<store::Snapshot> ensureSnapshot(RotationContext& ctx, CertificateRotation& r, std::string_view purpose,
                                         const std::string& reason) {
  const std::string name = snapshotName(r, purpose);
  auto existing = ctx.store.getSnapshot(r, name);
  store::Snapshot snapshot;
  if (existing.ok()) {
    snapshot = std::move(*existing);
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status();
  } else {
    snapshot = {name, statusNow(ctx), r.status.revision, reason, {}, {}};
    for (const api::ServerSpec& server : r.spec.servers) {
      ASSIGN_OR_RETURN(auto served, ctx.store.readServed(r, server.name));
      if (served.value) {
        snapshot.servers[server.name] = *served.value;
      }
    }
    ASSIGN_OR_RETURN(auto bundle, ctx.store.readBundle(r));
    snapshot.bundlePem = bundle.value.value_or("");
    RETURN_IF_ERROR(ctx.store.putSnapshot(r, snapshot));
  }
  const bool recorded = std::any_of(r.status.snapshots.begin(), r.status.snapshots.end(),
                                    [&](const api::SnapshotRef& s) { return s.name == name; });
  if (!recorded) {
    r.status.snapshots.push_back({snapshot.name, snapshot.takenAt, snapshot.revision, snapshot.reason});
  }
  return snapshot;
}

}  // namespace rotor::reconcilers
