#include "controller/store/kube/kube_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {

using nlohmann::json;
using rotor::kube::kConfigMaps;
using rotor::kube::kRotations;
using rotor::kube::kSecrets;
using rotor::kube::PatchType;
using rotor::kube::ResourceType;
constexpr int kModifyAttempts = 5;

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

}  // namespace rotor::store::kube
