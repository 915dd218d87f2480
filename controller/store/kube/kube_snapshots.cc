#include "controller/store/kube/kube_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {

using nlohmann::json;
using rotor::kube::kSecrets;

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

}  // namespace rotor::store::kube
