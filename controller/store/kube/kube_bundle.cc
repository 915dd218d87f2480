#include "controller/store/kube/kube_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "controller/pki/base64.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"
#include "controller/pki/pkcs12.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {
namespace {

using nlohmann::json;
using rotor::kube::kConfigMaps;
using rotor::kube::kSecrets;
using rotor::kube::ResourceType;

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
  if (secret) return secretValue(object, key);
  return data[key].get<std::string>();
}

void setBundleText(json& object, const std::string& key, const std::string& pem, bool secret) {
  if (secret) {
    object["type"] = "Opaque";
    setSecretValue(object, key, pem);
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

/** What spec.trustBundle.clusterTrustBundle asks, for telling a sync's inputs apart. */
std::string clusterTrustBundleInputs(const CertificateRotation& r) {
  const auto& spec = r.spec.trustBundle.clusterTrustBundle;
  if (!spec) return "-";
  std::string out = spec->name + "\n" + spec->signerName;
  for (const auto& [key, value] : spec->labels) out += "\n" + key + "=" + value;
  return out;
}

}  // namespace

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
                             (spec.truststore ? spec.truststore->key + "\n" + spec.truststore->password : "-") + "\n" +
                             clusterTrustBundleInputs(r);
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
  if (failed.ok()) {
    ASSIGN_OR_RETURN(result.clusterTrustBundle, syncClusterTrustBundle(r, bundlePem));
  }
  std::lock_guard lock(copiesMu_);
  Copies& copied = copied_[r.key()];
  copied.secret = kind.secret;
  copied.name = name;
  copied.namespaces = std::move(wanted);
  for (const std::string& ns : result.foreign) copied.namespaces.erase(ns);
  RETURN_IF_ERROR(failed.withContext("could not write the trust bundle's copies"));
  if (api::copiesComplete(result) && bundleCurrent) {
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
  if (!copies.clusterTrustBundle.empty()) RETURN_IF_ERROR(removeClusterTrustBundle(copies.clusterTrustBundle, source));
  std::lock_guard lock(copiesMu_);
  copied_.erase(key);
  syncedCopies_.erase(key);
  return okStatus();
}

StatusOr<size_t> KubeStore::collectOrphans(const std::vector<ObjectKey>& rotations) {
  std::set<std::string> alive;
  for (const ObjectKey& key : rotations) alive.insert(key.ns + "/" + key.name);
  const std::string selector = std::string(kPartLabel) + " in (" + std::string(kBundleCopyPart) + "," +
                               std::string(kClusterTrustBundlePart) + ")";
  std::vector<const ResourceType*> types = {&kConfigMaps, &kSecrets};
  ASSIGN_OR_RETURN(const ResourceType* clusterTrustBundles, clusterTrustBundleType());
  if (clusterTrustBundles != nullptr) types.push_back(clusterTrustBundles);
  size_t removed = 0;
  for (const ResourceType* type : types) {
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

}  // namespace rotor::store::kube
