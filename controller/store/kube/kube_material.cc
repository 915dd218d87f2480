#include "controller/store/kube/kube_store.h"

#include <nlohmann/json.hpp>

#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {

using nlohmann::json;
using rotor::kube::kSecrets;

// ---- CA material -----------------------------------------------------------------------------

StatusOr<store::Versioned<store::Authorities>> KubeStore::readAuthorities(const CertificateRotation& r) {
  auto secret = client_.get(kSecrets, r.metadata.ns, caSecretName(r));
  if (isNotFound(secret)) return store::Versioned<store::Authorities>{{}, ""};
  if (!secret.ok()) return secret.status();
  if (!ownedBy(*secret, r.metadata.uid)) {
    return failedPrecondition("Secret " + r.metadata.ns + "/" + caSecretName(r) + " belongs to another rotation");
  }
  store::Authorities out;
  const auto slot = [&](const std::string& which) -> std::optional<store::AuthorityMaterial> {
    auto cert = secretValue(*secret, which + ".crt");
    auto key = secretValue(*secret, which + ".key");
    if (!cert || !key) return std::nullopt;
    return store::AuthorityMaterial{*cert, *key};
  };
  out.current = slot("current");
  out.next = slot("next");
  out.previous = slot("previous");
  return store::Versioned<store::Authorities>{out, resourceVersionOf(*secret)};
}

Status KubeStore::writeAuthorities(const CertificateRotation& r, const store::Authorities& authorities,
                                   const store::Version& expected) {
  json fresh = newObject(kSecrets, r, caSecretName(r), "ca", true);
  fresh["type"] = "Opaque";
  return writeVersioned(kSecrets, r.metadata.ns, fresh, expected, [&](json& secret) {
    secret["data"] = json::object();
    const auto put = [&](const std::string& which, const std::optional<store::AuthorityMaterial>& m) {
      if (!m) return;
      setSecretValue(secret, which + ".crt", m->certificatePem);
      setSecretValue(secret, which + ".key", m->keyPem);
    };
    put("current", authorities.current);
    put("next", authorities.next);
    put("previous", authorities.previous);
  });
}

StatusOr<store::AuthorityMaterial> KubeStore::readCustomAuthority(const CertificateRotation& r) {
  if (!r.spec.ca.secretRef) return failedPrecondition("spec.ca names no secretRef to read a CA from");
  auto secret = client_.get(kSecrets, r.metadata.ns, r.spec.ca.secretRef->name);
  if (!secret.ok()) return secret.status();
  auto cert = secretValue(*secret, "tls.crt");
  auto key = secretValue(*secret, "tls.key");
  if (!cert || !key) {
    return failedPrecondition("Secret " + r.metadata.ns + "/" + r.spec.ca.secretRef->name +
                              " lacks tls.crt or tls.key");
  }
  return store::AuthorityMaterial{*cert, *key};
}

// ---- served material -------------------------------------------------------------------------

StatusOr<store::Versioned<std::optional<store::ServedMaterial>>> KubeStore::readServed(const CertificateRotation& r,
                                                                                       std::string_view server) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  auto secret = client_.get(kSecrets, r.metadata.ns, spec->secretName);
  if (isNotFound(secret)) return store::Versioned<std::optional<store::ServedMaterial>>{std::nullopt, ""};
  if (!secret.ok()) return secret.status();
  auto chain = secretValue(*secret, "tls.crt");
  auto key = secretValue(*secret, "tls.key");
  std::optional<store::ServedMaterial> material;
  if (chain && key && !chain->empty() && !key->empty()) {
    material = store::ServedMaterial{*chain, *key, secretValue(*secret, "ca.crt").value_or("")};
  }
  return store::Versioned<std::optional<store::ServedMaterial>>{material, resourceVersionOf(*secret)};
}

Status KubeStore::writeServed(const CertificateRotation& r, std::string_view server,
                              const store::ServedMaterial& material, const store::Version& expected) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  // The workload's Secret, not the rotation's: deleting the rotation must not take it away.
  json fresh = newObject(kSecrets, r, spec->secretName, "", false);
  fresh["type"] = "kubernetes.io/tls";
  return writeVersioned(kSecrets, r.metadata.ns, fresh, expected, [&](json& secret) {
    setSecretValue(secret, "tls.crt", material.certificateChainPem);
    setSecretValue(secret, "tls.key", material.keyPem);
    if (material.caPem.empty()) {
      if (secret.contains("data")) secret["data"].erase("ca.crt");
    } else {
      setSecretValue(secret, "ca.crt", material.caPem);
    }
  });
}

}  // namespace rotor::store::kube
