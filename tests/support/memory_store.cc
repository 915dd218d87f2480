#include "tests/support/memory_store.h"

namespace rotor::testing {

using store::Version;

StatusOr<std::vector<store::CertificateRotation>> MemoryStore::listRotations(const std::string& ns) {
  std::lock_guard lock(mu_);
  std::vector<store::CertificateRotation> out;
  for (const auto& [key, r] : rotations_) {
    if (ns.empty() || key.ns == ns) out.push_back(r);
  }
  return out;
}

Status MemoryStore::requireRotation(const store::ObjectKey& key) const {
  if (rotations_.count(key) == 0) return notFound("CertificateRotation " + key.toString() + " not found");
  return okStatus();
}

StatusOr<store::CertificateRotation> MemoryStore::getRotation(const store::ObjectKey& key) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(key));
  return rotations_.at(key);
}

StatusOr<store::CertificateRotation> MemoryStore::applyRotation(const store::CertificateRotation& desired) {
  std::lock_guard lock(mu_);
  auto it = rotations_.find(desired.key());
  if (it == rotations_.end()) {
    store::CertificateRotation r;
    r.metadata = desired.metadata;
    r.metadata.uid = "uid-" + std::to_string(sequence_ + 1);
    r.metadata.generation = 1;
    r.metadata.creationTimestamp = truncateToSeconds(clock_.now());
    r.metadata.resourceVersion = nextVersion();
    r.spec = desired.spec;
    return rotations_[desired.key()] = r;
  }
  store::CertificateRotation updated = it->second;
  bool specChanged = store::mergeApplied(updated, desired);
  if (!specChanged && updated.metadata == it->second.metadata) return it->second;
  if (specChanged) updated.metadata.generation++;
  updated.metadata.resourceVersion = nextVersion();
  return it->second = updated;
}

Status MemoryStore::updateRotation(store::CertificateRotation& rotation) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(rotation.key()));
  store::CertificateRotation& stored = rotations_.at(rotation.key());
  if (stored.metadata.resourceVersion != rotation.metadata.resourceVersion) {
    return conflict("CertificateRotation " + rotation.key().toString() + " was modified");
  }
  if (!(stored.spec == rotation.spec)) stored.metadata.generation++;
  stored.spec = rotation.spec;
  stored.metadata.labels = rotation.metadata.labels;
  stored.metadata.annotations = rotation.metadata.annotations;
  stored.metadata.resourceVersion = nextVersion();
  rotation = stored;
  return okStatus();
}

Status MemoryStore::updateRotationStatus(store::CertificateRotation& rotation) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(rotation.key()));
  store::CertificateRotation& stored = rotations_.at(rotation.key());
  if (stored.metadata.resourceVersion != rotation.metadata.resourceVersion) {
    return conflict("CertificateRotation " + rotation.key().toString() + " was modified");
  }
  stored.status = rotation.status;
  stored.metadata.resourceVersion = nextVersion();
  rotation.metadata = stored.metadata;
  return okStatus();
}

Status MemoryStore::deleteRotation(const store::ObjectKey& key) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(key));
  rotations_.erase(key);
  authorities_.erase(key);
  snapshots_.erase(key);
  agents_.erase(key);
  tokenDigests_.erase(key);
  return okStatus();
}

namespace {
template <typename Slot>
Version versionOf(const Slot* slot) {
  return slot == nullptr || slot->version == 0 ? Version() : std::to_string(slot->version);
}
}  // namespace

StatusOr<store::Versioned<store::Authorities>> MemoryStore::readAuthorities(const store::CertificateRotation& r) {
  std::lock_guard lock(mu_);
  auto it = authorities_.find(r.key());
  if (it == authorities_.end()) return store::Versioned<store::Authorities>{};
  return store::Versioned<store::Authorities>{it->second.value, versionOf(&it->second)};
}

Status MemoryStore::writeAuthorities(const store::CertificateRotation& r, const store::Authorities& a,
                                     const Version& expected) {
  std::lock_guard lock(mu_);
  auto it = authorities_.find(r.key());
  if (versionOf(it == authorities_.end() ? nullptr : &it->second) != expected) {
    return conflict("CA material of " + r.key().toString() + " was modified");
  }
  authorities_[r.key()] = {a, ++sequence_};
  return okStatus();
}

StatusOr<store::Versioned<std::optional<store::ServedMaterial>>> MemoryStore::readServed(
    const store::CertificateRotation& r, std::string_view server) {
  std::lock_guard lock(mu_);
  if (store::findServer(r, server) == nullptr) return notFound("no server \"" + std::string(server) + "\"");
  auto it = served_.find({r.key(), std::string(server)});
  if (it == served_.end()) return store::Versioned<std::optional<store::ServedMaterial>>{};
  return store::Versioned<std::optional<store::ServedMaterial>>{it->second.value, versionOf(&it->second)};
}

Status MemoryStore::writeServed(const store::CertificateRotation& r, std::string_view server,
                                const store::ServedMaterial& m, const Version& expected) {
  std::lock_guard lock(mu_);
  if (store::findServer(r, server) == nullptr) return notFound("no server \"" + std::string(server) + "\"");
  auto key = std::make_pair(r.key(), std::string(server));
  auto it = served_.find(key);
  if (versionOf(it == served_.end() ? nullptr : &it->second) != expected) {
    return conflict("served material of \"" + std::string(server) + "\" was modified");
  }
  served_[key] = {m, ++sequence_};
  return okStatus();
}

StatusOr<store::Versioned<std::optional<std::string>>> MemoryStore::readBundle(const store::CertificateRotation& r) {
  std::lock_guard lock(mu_);
  auto it = bundles_.find(r.key());
  if (it == bundles_.end()) return store::Versioned<std::optional<std::string>>{};
  return store::Versioned<std::optional<std::string>>{it->second.value, versionOf(&it->second)};
}

Status MemoryStore::writeBundle(const store::CertificateRotation& r, const std::string& pem, const Version& expected) {
  std::lock_guard lock(mu_);
  auto it = bundles_.find(r.key());
  if (versionOf(it == bundles_.end() ? nullptr : &it->second) != expected) {
    return conflict("trust bundle of " + r.key().toString() + " was modified");
  }
  bundles_[r.key()] = {pem, ++sequence_};
  return okStatus();
}

Status MemoryStore::putSnapshot(const store::CertificateRotation& r, const store::Snapshot& s) {
  std::lock_guard lock(mu_);
  for (const store::Snapshot& existing : snapshots_[r.key()]) {
    if (existing.name == s.name) {
      if (existing == s) return okStatus();
      return alreadyExists("snapshot \"" + s.name + "\" already exists with other content");
    }
  }
  snapshots_[r.key()].push_back(s);
  return okStatus();
}

StatusOr<store::Snapshot> MemoryStore::getSnapshot(const store::CertificateRotation& r, std::string_view name) {
  std::lock_guard lock(mu_);
  for (const store::Snapshot& s : snapshots_[r.key()]) {
    if (s.name == name) return s;
  }
  return notFound("snapshot \"" + std::string(name) + "\" not found");
}

StatusOr<std::vector<std::string>> MemoryStore::listSnapshots(const store::CertificateRotation& r) {
  std::lock_guard lock(mu_);
  std::vector<store::Snapshot> sorted = snapshots_[r.key()];
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.takenAt < b.takenAt; });
  std::vector<std::string> out;
  for (const auto& s : sorted) out.push_back(s.name);
  return out;
}

Status MemoryStore::reload(const store::CertificateRotation& r, std::string_view server) {
  std::lock_guard lock(mu_);
  if (store::findServer(r, server) == nullptr) return notFound("no server \"" + std::string(server) + "\"");
  if (auto it = reloadFailures_.find(server); it != reloadFailures_.end() && it->second.second > 0) {
    --it->second.second;
    return it->second.first;
  }
  reloads_.push_back(r.key().toString() + "/" + std::string(server));
  return okStatus();
}

StatusOr<api::Rollout> MemoryStore::rolloutStatus(const store::CertificateRotation& r, std::string_view server) {
  std::lock_guard lock(mu_);
  if (store::findServer(r, server) == nullptr) return notFound("no server \"" + std::string(server) + "\"");
  const auto it = rollouts_.find(server);
  return it == rollouts_.end() ? api::Rollout{} : it->second;
}

void MemoryStore::setRollout(std::string_view server, api::Rollout rollout) {
  std::lock_guard lock(mu_);
  rollouts_.insert_or_assign(std::string(server), std::move(rollout));
}

void MemoryStore::failReloads(std::string_view server, Status status, int times) {
  std::lock_guard lock(mu_);
  const int failures = status.ok() ? 0 : times;
  reloadFailures_.insert_or_assign(std::string(server), std::pair{std::move(status), failures});
}

StatusOr<store::AuthorityMaterial> MemoryStore::readCustomAuthority(const store::CertificateRotation& r) {
  if (!r.spec.ca.files && !r.spec.ca.secretRef) return failedPrecondition("spec.ca names no CA to import");
  std::lock_guard lock(mu_);
  auto it = customAuthorities_.find(r.key());
  if (it == customAuthorities_.end()) return notFound("no custom CA for " + r.key().toString());
  return it->second;
}

void MemoryStore::setCustomAuthority(const store::ObjectKey& key, const store::AuthorityMaterial& material) {
  std::lock_guard lock(mu_);
  customAuthorities_[key] = material;
}

Status MemoryStore::visitAgents(const store::ObjectKey& key,
                                const std::function<void(const store::AgentRecord&)>& visit) {
  std::map<std::string, store::AgentRecord> copy;
  {
    std::lock_guard lock(mu_);
    copy = agents_[key];
  }
  for (const auto& [id, a] : copy) visit(a);
  return okStatus();
}

Status MemoryStore::putAgents(const store::ObjectKey& key, const std::vector<store::AgentRecord>& agents) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(key));
  for (const store::AgentRecord& a : agents) RETURN_IF_ERROR(store::validateAgentRecord(a));
  for (const store::AgentRecord& a : agents) agents_[key][a.id] = a;
  return okStatus();
}

StatusOr<std::vector<std::string>> MemoryStore::readAgentTokenDigests(const store::ObjectKey& key) {
  std::lock_guard lock(mu_);
  return tokenDigests_[key];
}

Status MemoryStore::addAgentTokenDigest(const store::ObjectKey& key, const std::string& digestHex) {
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(requireRotation(key));
  tokenDigests_[key].push_back(digestHex);
  return okStatus();
}

std::vector<std::string> MemoryStore::reloads() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

}  // namespace rotor::testing
