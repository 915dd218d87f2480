#include "controller/store/kube/kube_store.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "controller/api/json_codec.h"
#include "controller/common/strings.h"
#include "controller/kube/rollout.h"
#include "controller/pki/base64.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"
#include "controller/pki/pkcs12.h"

namespace rotor::store::kube {
namespace {

using nlohmann::json;
using rotor::kube::Client;
using rotor::kube::kConfigMaps;
using rotor::kube::kDaemonSets;
using rotor::kube::kDeployments;
using rotor::kube::kPods;
using rotor::kube::kRotations;
using rotor::kube::kSecrets;
using rotor::kube::kStatefulSets;
using rotor::kube::PatchType;
using rotor::kube::ResourceType;
using rotor::kube::rolloutOf;
constexpr int kModifyAttempts = 5;

std::string resourceVersionOf(const json& object) {
  return object.value("/metadata/resourceVersion"_json_pointer, std::string());
}

/** Whether `object` belongs to the rotation with `uid` (not to one deleted under the same name). */
bool ownedBy(const json& object, const std::string& uid) {
  const json refs = object.value("/metadata/ownerReferences"_json_pointer, json::array());
  return std::any_of(refs.begin(), refs.end(), [&](const json& ref) { return ref.value("uid", "") == uid; });
}

std::optional<std::string> secretValue(const json& secret, const std::string& key) {
  const json data = secret.value("data", json::object());
  if (!data.contains(key) || !data[key].is_string()) return std::nullopt;
  auto decoded = pki::base64Decode(data[key].get<std::string>());
  return decoded.ok() ? std::optional<std::string>(*decoded) : std::nullopt;
}

void setSecretValue(json& secret, const std::string& key, const std::string& value) {
  secret["data"][key] = pki::base64Encode(value);
}

/** NotFound becomes "absent" for reads that allow it. */
template <typename T>
bool isNotFound(const StatusOr<T>& s) {
  return !s.ok() && s.status().code() == Code::kNotFound;
}

const ResourceType* workloadType(const std::string& kind) {
  if (kind == "Deployment") return &kDeployments;
  if (kind == "StatefulSet") return &kStatefulSets;
  if (kind == "DaemonSet") return &kDaemonSets;
  return nullptr;
}

/** Where the bundle lives: a ConfigMap (the PEM in data, a truststore in binaryData), or a
 *  Secret (spec.trustBundle.secretName: everything base64 in data). */
struct BundleKind {
  const ResourceType& type;
  bool secret;
};

BundleKind bundleKindOf(const api::TrustBundleSpec& spec) {
  return spec.secretName.empty() ? BundleKind{kConfigMaps, false} : BundleKind{kSecrets, true};
}

/** The bundle's text under `key`, or nullopt. */
std::optional<std::string> bundleText(const json& object, const std::string& key, bool secret) {
  const json data = object.value("data", json::object());
  if (!data.is_object() || !data.contains(key) || !data[key].is_string()) return std::nullopt;
  if (!secret) return data[key].get<std::string>();
  StatusOr<std::string> decoded = pki::base64Decode(data[key].get<std::string>());
  return decoded.ok() ? std::optional<std::string>(*decoded) : std::nullopt;
}

void setBundleText(json& object, const std::string& key, const std::string& pem, bool secret) {
  if (secret) {
    object["type"] = "Opaque";
    object["data"][key] = pki::base64Encode(pem);
  } else {
    object["data"][key] = pem;
  }
}

/** A bundle's PKCS#12 truststore as its object carries it (spec.trustBundle.truststore). */
struct Truststore {
  std::string key;
  std::string base64;
  std::string mark;  // kTruststoreAnnotation's value
};

/** Names what the truststore was made from: the bundle and the password (a new one remakes it). */
std::string truststoreMark(const api::TruststoreSpec& spec, const std::string& pem) {
  return spec.key + " sha256:" + pki::sha256Hex(spec.password + "\n" + pem);
}

/** The truststore `pem` makes, or nullopt when the spec asks for none. */
StatusOr<std::optional<Truststore>> truststoreOf(const api::TrustBundleSpec& spec, const std::string& pem) {
  if (!spec.truststore) return std::optional<Truststore>();
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> certificates, pki::parsePemBundle(pem));
  ASSIGN_OR_RETURN(std::vector<uint8_t> der, pki::exportTruststore(certificates, spec.truststore->password));
  return std::optional<Truststore>(Truststore{
      spec.truststore->key, pki::base64Encode(std::string_view(reinterpret_cast<const char*>(der.data()), der.size())),
      truststoreMark(*spec.truststore, pem)});
}

std::string truststoreMarkOf(const json& object) {
  const json annotations = object.value("/metadata/annotations"_json_pointer, json::object());
  return annotations.value(std::string(kTruststoreAnnotation), "");
}

/** Whether the object's truststore is what `pem` makes (none when the spec asks none). */
bool truststoreCurrent(const json& object, const api::TrustBundleSpec& spec, const std::string& pem) {
  const std::string mark = truststoreMarkOf(object);
  return spec.truststore ? mark == truststoreMark(*spec.truststore, pem) : mark.empty();
}

/** Puts `truststore` into the bundle's object (a Secret's data, a ConfigMap's binaryData), after
 *  removing the one rotor wrote before (if any). */
void setTruststore(json& object, const std::optional<Truststore>& truststore, bool secret) {
  const char* field = secret ? "data" : "binaryData";
  if (const std::string old = truststoreMarkOf(object); !old.empty()) {
    if (object.contains(field)) object[field].erase(old.substr(0, old.find(' ')));
    object["metadata"]["annotations"].erase(std::string(kTruststoreAnnotation));
  }
  if (!truststore) return;
  object[field][truststore->key] = truststore->base64;
  object["metadata"]["annotations"][std::string(kTruststoreAnnotation)] = truststore->mark;
}

/** The rotation ("namespace/name") whose bundle `object` is rotor's copy of; empty: none. */
std::string bundleSourceOf(const json& object) {
  return object.value("/metadata/annotations"_json_pointer, json::object())
      .value(std::string(kBundleSourceAnnotation), "");
}

/** Removes `object` as it was read (uid and resourceVersion preconditions): one replaced or
 *  changed meanwhile stays. */
Status removeAsRead(rotor::kube::Client& client, const ResourceType& type, const json& object) {
  return client.remove(
      type, object.value("/metadata/namespace"_json_pointer, std::string()),
      object.value("/metadata/name"_json_pointer, std::string()),
      {.uid = object.value("/metadata/uid"_json_pointer, std::string()), .resourceVersion = resourceVersionOf(object)});
}

}  // namespace

// ---- rotations -------------------------------------------------------------------------------

StatusOr<json> KubeStore::getRaw(const ObjectKey& key) { return client_.get(kRotations, key.ns, key.name); }

StatusOr<std::vector<CertificateRotation>> KubeStore::listRotations(const std::string& ns) {
  auto list = client_.list(kRotations, ns.empty() ? options_.watchNamespace : ns);
  if (!list.ok()) return list.status();
  std::vector<CertificateRotation> out;
  for (const json& item : list->items) {
    // One object the codec refuses must not hide the others; getRotation reports it.
    if (auto decoded = api::decodeRotation(item); decoded.ok()) out.push_back(std::move(decoded).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.metadata.key() < b.metadata.key(); });
  return out;
}

StatusOr<CertificateRotation> KubeStore::getRotation(const ObjectKey& key) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  return api::decodeRotation(*raw);
}

StatusOr<CertificateRotation> KubeStore::applyRotation(const CertificateRotation& desired) {
  for (int attempt = 0; attempt < kModifyAttempts; ++attempt) {
    auto stored = getRotation(desired.metadata.key());
    if (isNotFound(stored)) {
      json object = api::encodeRotation(desired, false);
      for (const char* server : {"uid", "resourceVersion", "generation", "creationTimestamp"})
        object["metadata"].erase(server);
      auto created = client_.create(kRotations, desired.metadata.ns, object);
      if (!created.ok() && created.status().code() == Code::kAlreadyExists) continue;  // someone was quicker
      if (!created.ok()) return created.status();
      return api::decodeRotation(*created);
    }
    if (!stored.ok()) return stored.status();
    CertificateRotation merged = *stored;
    const bool specChanged = store::mergeApplied(merged, desired);
    if (!specChanged && merged.metadata == stored->metadata) return *stored;
    Status written = updateRotation(merged);
    if (written.code() == Code::kConflict) continue;
    if (!written.ok()) return written;
    return getRotation(desired.metadata.key());
  }
  return conflict("rotation " + desired.metadata.key().toString() + " kept changing while it was applied");
}

Status KubeStore::updateRotation(CertificateRotation& rotation) {
  auto raw = getRaw(rotation.metadata.key());
  if (!raw.ok()) return raw.status();
  if (resourceVersionOf(*raw) != rotation.metadata.resourceVersion) {
    return conflict("rotation " + rotation.metadata.key().toString() + " has changed since it was read");
  }
  // Only what rotor owns changes; finalizers, owner references and the like stay as they are.
  (*raw)["spec"] = api::encodeSpec(rotation.spec);
  json& meta = (*raw)["metadata"];
  meta.erase("labels");
  meta.erase("annotations");
  if (!rotation.metadata.labels.empty()) meta["labels"] = rotation.metadata.labels;
  if (!rotation.metadata.annotations.empty()) meta["annotations"] = rotation.metadata.annotations;
  auto written = client_.update(kRotations, rotation.metadata.ns, *raw);
  if (!written.ok()) return written.status();
  rotation.metadata.resourceVersion = resourceVersionOf(*written);
  rotation.metadata.generation = written->value("/metadata/generation"_json_pointer, rotation.metadata.generation);
  return Status();
}

Status KubeStore::updateRotationStatus(CertificateRotation& rotation) {
  const json object = {{"apiVersion", api::kApiVersion},
                       {"kind", api::kKind},
                       {"metadata",
                        {{"name", rotation.metadata.name},
                         {"namespace", rotation.metadata.ns},
                         {"resourceVersion", rotation.metadata.resourceVersion}}},
                       {"status", api::encodeStatus(rotation.status)}};
  auto written = client_.updateStatus(kRotations, rotation.metadata.ns, object);
  if (!written.ok()) return written.status();
  rotation.metadata.resourceVersion = resourceVersionOf(*written);
  return Status();
}

Status KubeStore::deleteRotation(const ObjectKey& key) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  const std::string uid = raw->value("/metadata/uid"_json_pointer, std::string());
  if (Status s = client_.remove(kRotations, key.ns, key.name, {.uid = uid}); !s.ok()) return s;
  forgetWrittenShards(key);
  // The garbage collector would remove what the rotation owns; doing it now means a rotation
  // created again under the name never meets the old one's material.
  const std::string selector = std::string(kRotationLabel) + "=" + labelValue(key.name) + "," + std::string(kPartLabel);
  for (const ResourceType* type : {&kSecrets, &kConfigMaps}) {
    auto owned = client_.list(*type, key.ns, {.labelSelector = selector});
    if (!owned.ok()) return owned.status();
    for (const json& object : owned->items) {
      if (!ownedBy(object, uid)) continue;
      Status s = client_.remove(*type, key.ns, object["metadata"]["name"].get<std::string>());
      if (!s.ok() && s.code() != Code::kNotFound) return s;
    }
  }
  return Status();
}

// ---- writes ----------------------------------------------------------------------------------

json KubeStore::newObject(const ResourceType& type, const CertificateRotation& r, const std::string& name,
                          std::string_view part, bool owned) const {
  json object = {{"apiVersion", type.apiVersion()},
                 {"kind", type.kind},
                 {"metadata", {{"name", name}, {"namespace", r.metadata.ns}}}};
  if (!part.empty()) {
    object["metadata"]["labels"] = {{std::string(kRotationLabel), labelValue(r.metadata.name)},
                                    {std::string(kPartLabel), std::string(part)}};
  }
  if (owned) {
    object["metadata"]["ownerReferences"] = json::array({{{"apiVersion", api::kApiVersion},
                                                          {"kind", api::kKind},
                                                          {"name", r.metadata.name},
                                                          {"uid", r.metadata.uid},
                                                          {"controller", true},
                                                          {"blockOwnerDeletion", true}}});
  }
  return object;
}

Status KubeStore::writeVersioned(const ResourceType& type, const std::string& ns, const json& fresh,
                                 const store::Version& expected, const std::function<void(json&)>& fill) {
  const std::string name = fresh["metadata"]["name"].get<std::string>();
  if (expected.empty()) {
    json object = fresh;
    fill(object);
    auto created = client_.create(type, ns, object);
    if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
      return conflict(std::string(type.kind) + " " + ns + "/" + name + " was created by someone else meanwhile");
    }
    return created.status();
  }
  auto current = client_.get(type, ns, name);
  if (isNotFound(current)) return conflict(std::string(type.kind) + " " + ns + "/" + name + " was deleted meanwhile");
  if (!current.ok()) return current.status();
  if (resourceVersionOf(*current) != expected) {
    return conflict(std::string(type.kind) + " " + ns + "/" + name + " has changed since it was read");
  }
  fill(*current);
  return client_.update(type, ns, *current).status();
}

Status KubeStore::modify(const ResourceType& type, const std::string& ns, const json& fresh,
                         const std::function<Status(json&)>& change, json* known) {
  const std::string name = fresh["metadata"]["name"].get<std::string>();
  for (int attempt = 0; attempt < kModifyAttempts; ++attempt) {
    const bool useKnown = known != nullptr && !known->is_null();
    auto current = useKnown ? StatusOr<json>(std::move(*known)) : client_.get(type, ns, name);
    if (known != nullptr) *known = nullptr;  // until this write succeeds
    const bool absent = isNotFound(current);
    if (!absent && !current.ok()) return current.status();
    json object = absent ? fresh : std::move(*current);
    // An object left by a rotation deleted under the same name becomes this one's.
    if (fresh["metadata"].contains("ownerReferences"))
      object["metadata"]["ownerReferences"] = fresh["metadata"]["ownerReferences"];
    if (Status s = change(object); !s.ok()) return s;
    auto written = absent ? client_.create(type, ns, object) : client_.update(type, ns, object);
    const Code code = written.status().code();
    if (code == Code::kConflict || code == Code::kAlreadyExists || (useKnown && code == Code::kNotFound)) continue;
    if (written.ok() && known != nullptr) *known = std::move(*written);
    return written.status();
  }
  return conflict(std::string(type.kind) + " " + ns + "/" + name + " kept changing under concurrent writers");
}

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

// ---- trust bundle ----------------------------------------------------------------------------

StatusOr<store::Versioned<std::optional<std::string>>> KubeStore::readBundle(const CertificateRotation& r) {
  const std::string& name = api::bundleObjectName(r.spec.trustBundle);
  if (name.empty()) return failedPrecondition("spec.trustBundle names no configMapName or secretName");
  const BundleKind kind = bundleKindOf(r.spec.trustBundle);
  auto object = client_.get(kind.type, r.metadata.ns, name);
  if (isNotFound(object)) return store::Versioned<std::optional<std::string>>{std::nullopt, ""};
  if (!object.ok()) return object.status();
  return store::Versioned<std::optional<std::string>>{bundleText(*object, r.spec.trustBundle.key, kind.secret),
                                                      resourceVersionOf(*object)};
}

Status KubeStore::writeBundle(const CertificateRotation& r, const std::string& bundlePem,
                              const store::Version& expected) {
  const std::string& name = api::bundleObjectName(r.spec.trustBundle);
  if (name.empty()) return failedPrecondition("spec.trustBundle names no configMapName or secretName");
  const BundleKind kind = bundleKindOf(r.spec.trustBundle);
  ASSIGN_OR_RETURN(const std::optional<Truststore> truststore, truststoreOf(r.spec.trustBundle, bundlePem));
  return writeVersioned(kind.type, r.metadata.ns, newObject(kind.type, r, name, "", false), expected,
                        [&](json& object) {
                          setBundleText(object, r.spec.trustBundle.key, bundlePem, kind.secret);
                          setTruststore(object, truststore, kind.secret);
                        });
}

// ---- bundle copies ---------------------------------------------------------------------------

StatusOr<api::BundleCopiesStatus> KubeStore::syncBundleCopies(const CertificateRotation& r,
                                                              const std::string& bundlePem) {
  const api::TrustBundleSpec& spec = r.spec.trustBundle;
  const std::string& name = api::bundleObjectName(spec);
  if (name.empty()) return failedPrecondition("spec.trustBundle names no configMapName or secretName");
  const BundleKind kind = bundleKindOf(spec);
  const std::string selector = spec.namespaceSelector ? api::labelSelectorQuery(*spec.namespaceSelector) : "";
  const std::string inputs = r.metadata.uid + "\n" + (spec.namespaceSelector ? "+" + selector : "-") + "\n" +
                             std::string(kind.type.kind) + "/" + name + "\n" + spec.key + "\n" +
                             pki::sha256Hex(bundlePem) + "\n" +
                             (spec.truststore ? spec.truststore->key + "\n" + spec.truststore->password : "-");
  const MonotonicTime now = clock_.monotonicNow();
  {
    std::lock_guard lock(copiesMu_);
    auto it = syncedCopies_.find(r.key());
    if (it != syncedCopies_.end() && it->second.inputs == inputs && now < it->second.until) return it->second.result;
  }
  std::set<std::string> wanted;
  if (spec.namespaceSelector) {
    ASSIGN_OR_RETURN(rotor::kube::ObjectList namespaces,
                     client_.list(rotor::kube::kNamespaces, "", {.labelSelector = selector}));
    for (const json& n : namespaces.items) {
      const std::string matched = n.value("/metadata/name"_json_pointer, std::string());
      // A terminating namespace refuses new objects; its clients are going away.
      if (matched != r.metadata.ns && n.value("/status/phase"_json_pointer, std::string()) != "Terminating") {
        wanted.insert(matched);
      }
    }
  }
  // Every object of the bundle's name, in every namespace: one request for the copies that are
  // there, rotor's or not. A rotation that has never copied (a truststore beside its bundle
  // only) looks in its own namespace: it may have no cluster-wide rights.
  const bool mayHaveCopies = spec.namespaceSelector || r.status.bundleCopies;
  ASSIGN_OR_RETURN(rotor::kube::ObjectList existing, client_.list(kind.type, mayHaveCopies ? "" : r.metadata.ns,
                                                                  {.fieldSelector = "metadata.name=" + name}));
  const std::string source = r.metadata.ns + "/" + r.metadata.name;
  api::BundleCopiesStatus result;
  result.wanted = static_cast<int64_t>(wanted.size());
  Status failed = okStatus();
  const auto note = [&](Status s) {
    // A conflict (written or created meanwhile) is looked at again by the next sync.
    if (!s.ok() && s.code() != Code::kConflict && s.code() != Code::kAlreadyExists && failed.ok()) failed = s;
    return s.ok();
  };
  // The truststore is made once, and only when some object needs it written (PBKDF2 is slow).
  std::optional<StatusOr<std::optional<Truststore>>> truststore;
  const auto truststoreFor = [&]() -> const StatusOr<std::optional<Truststore>>& {
    if (!truststore) truststore = truststoreOf(spec, bundlePem);
    return *truststore;
  };
  // Writes the object with the bundle and its truststore; false (noted) when that failed.
  const auto rewrite = [&](json& object, const std::string& ns, bool create) {
    const StatusOr<std::optional<Truststore>>& made = truststoreFor();
    if (!note(made.status())) return false;
    setBundleText(object, spec.key, bundlePem, kind.secret);
    setTruststore(object, *made, kind.secret);
    return note(create ? client_.create(kind.type, ns, object).status()
                       : client_.update(kind.type, ns, object).status());
  };
  bool bundleCurrent = true;  // the bundle's own truststore
  std::set<std::string> present;
  for (json& object : existing.items) {
    const std::string ns = object.value("/metadata/namespace"_json_pointer, std::string());
    if (ns == r.metadata.ns) {
      // The bundle itself: its truststore follows a spec that asks for one later, or no more.
      const bool holdsIt = bundleText(object, spec.key, kind.secret) == bundlePem;
      if (holdsIt && !truststoreCurrent(object, spec, bundlePem)) bundleCurrent = rewrite(object, ns, false);
      continue;
    }
    present.insert(ns);
    const bool ours = bundleSourceOf(object) == source;
    if (!wanted.contains(ns)) {
      if (ours) note(removeAsRead(client_, kind.type, object));
      continue;
    }
    if (!ours) {
      result.foreign.push_back(ns);  // not a target: left alone, and reported
      --result.wanted;
      continue;
    }
    if (bundleText(object, spec.key, kind.secret) == bundlePem && truststoreCurrent(object, spec, bundlePem)) {
      ++result.current;
      continue;
    }
    if (rewrite(object, ns, false)) ++result.current;
  }
  for (const std::string& ns : wanted) {
    if (present.contains(ns)) continue;
    json copy = newObject(kind.type, r, name, kBundleCopyPart, false);
    copy["metadata"]["namespace"] = ns;
    copy["metadata"]["annotations"] = {{std::string(kBundleSourceAnnotation), source}};
    if (rewrite(copy, ns, true)) ++result.current;
  }
  std::lock_guard lock(copiesMu_);
  Copies& copied = copied_[r.key()];
  copied = {kind.secret, name, std::move(wanted)};
  for (const std::string& ns : result.foreign) copied.namespaces.erase(ns);
  RETURN_IF_ERROR(failed.withContext("could not write the trust bundle's copies"));
  if (result.current == result.wanted && bundleCurrent) {
    syncedCopies_[r.key()] = {inputs, now + kCopiesRecheck, result};
  } else {
    syncedCopies_.erase(r.key());
  }
  return result;
}

Status KubeStore::rotationGone(const ObjectKey& key) {
  Copies copies;
  {
    std::lock_guard lock(copiesMu_);
    const auto it = copied_.find(key);
    if (it == copied_.end()) return okStatus();
    copies = it->second;
  }
  const std::string source = key.ns + "/" + key.name;
  const ResourceType& type = copies.secret ? kSecrets : kConfigMaps;
  for (const std::string& ns : copies.namespaces) {
    auto copy = client_.get(type, ns, copies.name);
    if (isNotFound(copy)) continue;
    RETURN_IF_ERROR(copy.status());
    // Only what this rotation made, and only as it was read: a copy taken over meanwhile stays.
    if (bundleSourceOf(*copy) != source) continue;
    Status removed = removeAsRead(client_, type, *copy);
    if (!removed.ok() && removed.code() != Code::kNotFound && removed.code() != Code::kConflict) {
      return removed.withContext("could not remove the copy of the trust bundle in namespace " + ns);
    }
  }
  std::lock_guard lock(copiesMu_);
  copied_.erase(key);
  syncedCopies_.erase(key);
  return okStatus();
}

StatusOr<size_t> KubeStore::collectOrphans(const std::vector<ObjectKey>& rotations) {
  std::set<std::string> alive;
  for (const ObjectKey& key : rotations) alive.insert(key.ns + "/" + key.name);
  const std::string selector = std::string(kPartLabel) + "=" + std::string(kBundleCopyPart);
  size_t removed = 0;
  for (const ResourceType* type : {&kConfigMaps, &kSecrets}) {
    // Without the right to list them cluster-wide (docs/rbac.md: rbac.bundleCopies,
    // rbac.bundleSecrets) no rotation of this controller copies its bundle in that kind: asked
    // first, so that the API server never refuses the controller a request.
    ASSIGN_OR_RETURN(const bool allowed, client_.allowed("list", *type, ""));
    if (!allowed) continue;
    auto copies = client_.list(*type, "", {.labelSelector = selector});
    RETURN_IF_ERROR(copies.status().withContext("could not list the copies of trust bundles"));
    for (const json& copy : copies->items) {
      const std::string source = bundleSourceOf(copy);
      const size_t slash = source.find('/');
      // Another controller's rotations (--watch-namespace) are not known here, so not judged.
      if (slash == std::string::npos || alive.contains(source) ||
          (!options_.watchNamespace.empty() && source.substr(0, slash) != options_.watchNamespace)) {
        continue;
      }
      Status s = removeAsRead(client_, *type, copy);
      if (s.ok()) {
        ++removed;
      } else if (s.code() != Code::kNotFound && s.code() != Code::kConflict) {
        return s.withContext("could not remove a copy of the trust bundle of " + source + ", which is gone");
      }
    }
  }
  return removed;
}

void KubeStore::forgetBundleCopies() {
  std::lock_guard lock(copiesMu_);
  syncedCopies_.clear();
}

// ---- snapshots -------------------------------------------------------------------------------

Status KubeStore::putSnapshot(const CertificateRotation& r, const store::Snapshot& snapshot) {
  json secret = newObject(kSecrets, r, snapshotSecretName(r, snapshot.name), "snapshot", true);
  secret["type"] = "Opaque";
  secret["immutable"] = true;
  setSecretValue(secret, "snapshot.json", api::dumpJson(snapshotToJson(snapshot)));
  auto created = client_.create(kSecrets, r.metadata.ns, secret);
  if (created.ok()) return Status();
  if (created.status().code() != Code::kAlreadyExists) return created.status();
  auto existing = getSnapshot(r, snapshot.name);  // a retried write meets itself
  if (existing.ok() && *existing == snapshot) return Status();
  return alreadyExists("another snapshot is stored as " + snapshot.name);
}

StatusOr<store::Snapshot> KubeStore::getSnapshot(const CertificateRotation& r, std::string_view name) {
  auto secret = client_.get(kSecrets, r.metadata.ns, snapshotSecretName(r, name));
  if (secret.status().code() == Code::kNotFound)
    secret = client_.get(kSecrets, r.metadata.ns, legacySnapshotSecretName(r, name));
  if (!secret.ok()) return secret.status();
  if (!ownedBy(*secret, r.metadata.uid)) return notFound("snapshot " + std::string(name) + " not found");
  auto payload = secretValue(*secret, "snapshot.json");
  if (!payload) return failedPrecondition("the snapshot's stored copy is damaged");
  return snapshotFromJson(*payload);
}

StatusOr<std::vector<std::string>> KubeStore::listSnapshots(const CertificateRotation& r) {
  auto secrets = client_.list(kSecrets, r.metadata.ns, {.labelSelector = selectorFor(r.metadata.name, "snapshot")});
  if (!secrets.ok()) return secrets.status();
  std::vector<std::pair<SystemTime, std::string>> found;
  for (const json& secret : secrets->items) {
    if (!ownedBy(secret, r.metadata.uid)) continue;
    auto payload = secretValue(secret, "snapshot.json");
    auto snapshot = payload ? snapshotFromJson(*payload) : StatusOr<store::Snapshot>(failedPrecondition(""));
    if (snapshot.ok()) found.emplace_back(snapshot->takenAt, snapshot->name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& [at, name] : found) names.push_back(std::move(name));
  return names;
}

// ---- reload ----------------------------------------------------------------------------------

Status KubeStore::reload(const CertificateRotation& r, std::string_view server) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  if (!spec->restart) return Status();  // the workload watches its Secret itself
  return restart(spec->restart->kind, r.metadata.ns, spec->restart->name);
}

StatusOr<api::Rollout> KubeStore::rolloutStatus(const CertificateRotation& r, std::string_view server) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  if (!spec->restart) return api::Rollout{};
  return rollout(spec->restart->kind, r.metadata.ns, spec->restart->name);
}

Status KubeStore::restart(const std::string& kind, const std::string& ns, const std::string& name) {
  const ResourceType* type = workloadType(kind);
  if (type == nullptr) return invalidArgument("cannot restart a " + kind);
  // What `kubectl rollout restart` does: a new pod-template annotation rolls the pods.
  const json patch = {
      {"spec",
       {{"template",
         {{"metadata", {{"annotations", {{std::string(kRestartedAtAnnotation), formatRfc3339(clock_.now())}}}}}}}}}};
  return client_.patch(*type, ns, name, PatchType::kStrategicMerge, patch).status();
}

StatusOr<api::Rollout> KubeStore::rollout(const std::string& kind, const std::string& ns, const std::string& name) {
  const ResourceType* type = workloadType(kind);
  if (type == nullptr) return invalidArgument("cannot follow a " + kind);
  auto workload = client_.get(*type, ns, name);
  if (!workload.ok()) return workload.status();
  return rolloutOf(kind, *workload);
}

// ---- consumer pods ---------------------------------------------------------------------------

std::set<std::string> KubeStore::bundleNamespaces(const CertificateRotation& r) {
  std::set<std::string> out{r.metadata.ns};
  if (!r.spec.trustBundle.namespaceSelector) return out;
  std::lock_guard lock(copiesMu_);
  if (const auto it = copied_.find(r.key()); it != copied_.end()) {
    out.insert(it->second.namespaces.begin(), it->second.namespaces.end());
  }
  return out;
}

StatusOr<store::PodTally> KubeStore::tallyConsumerPods(const CertificateRotation& r, const store::PodQuery& query) {
  if (!r.spec.adoption.pods) return failedPrecondition("spec.adoption.pods is not set");
  const ConsumerQuery consumers{bundleSource(r.spec.trustBundle), bundleNamespaces(r), r.spec.adoption.pods->selector,
                                query};
  if (podSource_) return podSource_(consumers);
  // No watch (a one-off run): one LIST, of the one namespace or of every namespace.
  ConsumerCounter counter(consumers);
  const std::string ns = consumers.namespaces.size() == 1 ? *consumers.namespaces.begin() : "";
  RETURN_IF_ERROR(client_.listEach(kPods, ns, {}, [&](json& pod) { counter.add(summarizePod(pod)); }).status());
  return counter.result();
}

Status KubeStore::restartWorkload(const CertificateRotation& r, const api::WorkloadRef& workload) {
  if (!bundleNamespaces(r).contains(workload.ns)) {
    return failedPrecondition(workload.toString() + " is not in a namespace of the rotation's bundle");
  }
  return restart(workload.kind, workload.ns, workload.name);
}

StatusOr<api::Rollout> KubeStore::workloadRollout(const CertificateRotation&, const api::WorkloadRef& workload) {
  return rollout(workload.kind, workload.ns, workload.name);
}

// ---- agents ----------------------------------------------------------------------------------

Status KubeStore::visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  const std::string uid = raw->value("/metadata/uid"_json_pointer, std::string());
  auto shards = client_.list(kConfigMaps, key.ns, {.labelSelector = selectorFor(key.name, "agents")});
  if (!shards.ok()) return shards.status();
  for (const json& shard : shards->items) {
    if (!ownedBy(shard, uid)) continue;
    ASSIGN_OR_RETURN(std::vector<AgentRecord> records, shardAgents(shard));
    for (const AgentRecord& record : records) visit(record);
  }
  return Status();
}

Status KubeStore::putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) {
  for (const AgentRecord& a : agents) {
    if (Status s = store::validateAgentRecord(a); !s.ok()) return s;
  }
  auto rotation = getRotation(key);
  if (!rotation.ok()) {
    if (rotation.status().code() == Code::kNotFound) forgetWrittenShards(key);  // its last put
    return rotation.status();
  }
  std::map<int, std::vector<const AgentRecord*>> byShard;
  for (const AgentRecord& a : agents) byShard[shardOf(a.id, options_.agentShards)].push_back(&a);
  for (const auto& entry : byShard) {
    const std::vector<const AgentRecord*>& records = entry.second;  // a name the lambda may capture
    json fresh = newObject(kConfigMaps, *rotation, agentShardName(key.name, entry.first), "agents", true);
    const auto merge = [&](json& configMap) -> Status {
      std::map<std::string, AgentRecord> merged;
      if (ownedBy(configMap, rotation->metadata.uid)) {
        ASSIGN_OR_RETURN(std::vector<AgentRecord> stored, shardAgents(configMap));
        for (AgentRecord& a : stored) merged.insert_or_assign(a.id, std::move(a));
      }
      for (const AgentRecord* a : records) merged.insert_or_assign(a->id, *a);
      std::vector<AgentRecord> all;
      all.reserve(merged.size());
      for (auto& [id, a] : merged) all.push_back(std::move(a));
      return setShardAgents(configMap, std::move(all)).withContext(key.toString());
    };
    // The shard as this process last wrote it saves reading it again: only the leader writes
    // shards, and a write from anyone else since makes this one a conflict, then a fresh read.
    const std::string shardKey = key.ns + "/" + fresh["metadata"]["name"].get<std::string>();
    json known;
    {
      std::lock_guard lock(shardsMu_);
      if (auto it = writtenShards_.find(shardKey); it != writtenShards_.end()) {
        known = std::move(it->second);
        writtenShards_.erase(it);
      }
    }
    Status s = modify(kConfigMaps, key.ns, fresh, merge, &known);
    if (s.ok()) {
      std::lock_guard lock(shardsMu_);
      writtenShards_.insert_or_assign(shardKey, std::move(known));
    }
    if (!s.ok()) return s;
  }
  return Status();
}

void KubeStore::forgetWrittenShards(const ObjectKey& key) {
  std::lock_guard lock(shardsMu_);
  for (int shard = 0; shard < options_.agentShards; ++shard) {
    writtenShards_.erase(key.ns + "/" + agentShardName(key.name, shard));
  }
}

// ---- agent tokens ----------------------------------------------------------------------------

StatusOr<std::vector<std::string>> KubeStore::readAgentTokenDigests(const ObjectKey& key) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  auto secret = client_.get(kSecrets, key.ns, tokensSecretName(key.name));
  if (isNotFound(secret)) return std::vector<std::string>{};
  if (!secret.ok()) return secret.status();
  if (!ownedBy(*secret, raw->value("/metadata/uid"_json_pointer, std::string()))) return std::vector<std::string>{};
  std::vector<std::string> out;
  for (const std::string& line : split(secretValue(*secret, "digests").value_or(""), '\n')) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

Status KubeStore::addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) {
  if (!store::isSha256Hex(digestHex)) return invalidArgument("a token digest is 64 lower-case hex digits");
  auto rotation = getRotation(key);
  if (!rotation.ok()) return rotation.status();
  json fresh = newObject(kSecrets, *rotation, tokensSecretName(key.name), "agent-tokens", true);
  fresh["type"] = "Opaque";
  return modify(kSecrets, key.ns, fresh, [&](json& secret) {
    std::string digests = ownedBy(secret, rotation->metadata.uid) ? secretValue(secret, "digests").value_or("") : "";
    if (digests.find(digestHex) == std::string::npos) digests += digestHex + "\n";
    setSecretValue(secret, "digests", digests);
    return Status();
  });
}

}  // namespace rotor::store::kube
