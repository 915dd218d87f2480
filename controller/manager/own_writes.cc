#include "controller/manager/own_writes.h"

#include <algorithm>

namespace rotor::manager {

void OwnWrites::wrote(const api::ObjectKey& key, const std::string& resourceVersion) {
  if (resourceVersion.empty()) return;
  std::lock_guard lock(mu_);
  std::deque<std::string>& versions = written_[key];
  versions.push_back(resourceVersion);
  if (versions.size() > kRememberedPerRotation) versions.pop_front();
}

bool OwnWrites::isEcho(const api::ObjectKey& key, const std::string& resourceVersion) const {
  if (resourceVersion.empty()) return false;
  std::lock_guard lock(mu_);
  auto it = written_.find(key);
  return it != written_.end() && std::find(it->second.begin(), it->second.end(), resourceVersion) != it->second.end();
}

void OwnWrites::forget(const api::ObjectKey& key) {
  std::lock_guard lock(mu_);
  written_.erase(key);
}

Status OwnWriteRecorder::remember(const store::CertificateRotation& r, Status written) {
  if (written.ok()) writes_.wrote(r.key(), r.metadata.resourceVersion);
  return written;
}

StatusOr<store::CertificateRotation> OwnWriteRecorder::applyRotation(const store::CertificateRotation& desired) {
  auto applied = ForwardingStore::applyRotation(desired);
  if (applied.ok()) writes_.wrote(applied->key(), applied->metadata.resourceVersion);
  return applied;
}

Status OwnWriteRecorder::updateRotation(store::CertificateRotation& r) {
  return remember(r, ForwardingStore::updateRotation(r));
}

Status OwnWriteRecorder::updateRotationStatus(store::CertificateRotation& r) {
  return remember(r, ForwardingStore::updateRotationStatus(r));
}

Status OwnWriteRecorder::deleteRotation(const api::ObjectKey& key) {
  writes_.forget(key);
  return ForwardingStore::deleteRotation(key);
}

}  // namespace rotor::manager
