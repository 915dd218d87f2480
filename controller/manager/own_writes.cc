#include "controller/manager/own_writes.h"

#include <algorithm>

namespace rotor::manager {

void OwnWrites::begin(const api::ObjectKey& key) {
  std::lock_guard lock(mu_);
  ++inFlight_[key];
}

void OwnWrites::end(const api::ObjectKey& key, const std::string& resourceVersion) {
  {
    std::lock_guard lock(mu_);
    if (auto it = inFlight_.find(key); it != inFlight_.end() && --it->second == 0) inFlight_.erase(it);
    if (!resourceVersion.empty()) {
      std::deque<std::string>& versions = written_[key];
      versions.push_back(resourceVersion);
      if (versions.size() > kRememberedPerRotation) versions.pop_front();
    }
  }
  ended_.notify_all();
}

bool OwnWrites::isEcho(const api::ObjectKey& key, const std::string& resourceVersion) const {
  if (resourceVersion.empty()) return false;
  std::unique_lock lock(mu_);
  ended_.wait_for(lock, kInFlightWait, [&] { return !inFlight_.contains(key); });
  auto it = written_.find(key);
  return it != written_.end() && std::find(it->second.begin(), it->second.end(), resourceVersion) != it->second.end();
}

void OwnWrites::forget(const api::ObjectKey& key) {
  std::lock_guard lock(mu_);
  written_.erase(key);
}

Status OwnWriteRecorder::remember(const store::CertificateRotation& r, const std::function<Status()>& write) {
  writes_.begin(r.key());
  Status written = write();
  writes_.end(r.key(), written.ok() ? r.metadata.resourceVersion : "");
  return written;
}

StatusOr<store::CertificateRotation> OwnWriteRecorder::applyRotation(const store::CertificateRotation& desired) {
  writes_.begin(desired.key());
  auto applied = ForwardingStore::applyRotation(desired);
  writes_.end(desired.key(), applied.ok() ? applied->metadata.resourceVersion : "");
  return applied;
}

Status OwnWriteRecorder::updateRotation(store::CertificateRotation& r) {
  return remember(r, [&] { return ForwardingStore::updateRotation(r); });
}

Status OwnWriteRecorder::updateRotationStatus(store::CertificateRotation& r) {
  return remember(r, [&] { return ForwardingStore::updateRotationStatus(r); });
}

Status OwnWriteRecorder::deleteRotation(const api::ObjectKey& key) {
  writes_.forget(key);
  return ForwardingStore::deleteRotation(key);
}

}  // namespace rotor::manager
