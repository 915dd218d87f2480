#include "controller/store/kube/rotation_triggered_watch.h"

namespace rotor::store::kube {

RotationTriggeredWatch::~RotationTriggeredWatch() {
  watching_ = {};  // joins the reflector's thread before the reflector goes
}

void RotationTriggeredWatch::rotationChanged(const std::string& type, const nlohmann::json& rotation) {
  const nlohmann::json& metadata = rotation["metadata"];
  const api::ObjectKey key{metadata.value("namespace", ""), metadata.value("name", "")};
  const bool needs = type != "DELETED" && rotation.contains(needs_);
  std::lock_guard lock(mu_);
  if (!needs) {
    needing_.erase(key);
    return;
  }
  needing_.insert(key);
  if (reflector_) return;
  reflector_ = std::make_unique<rotor::kube::Reflector>(
      client_, type_, rotor::kube::ReflectorOptions{},
      [this](const std::string& event, const nlohmann::json& object) { changed(event, object); },
      [this](const Status& error) {
        {
          std::lock_guard errorLock(mu_);
          lastError_ = error.message();
        }
        if (onError_) onError_(error);
      });
  watching_ = std::jthread([reflector = reflector_.get()](std::stop_token stop) { reflector->run(stop); });
}

bool RotationTriggeredWatch::synced() const {
  std::lock_guard lock(mu_);
  return reflector_ && reflector_->synced();
}

std::string RotationTriggeredWatch::lastError() const {
  std::lock_guard lock(mu_);
  return lastError_;
}

void RotationTriggeredWatch::changed(const std::string& type, const nlohmann::json& object) {
  std::vector<api::ObjectKey> rotations;
  {
    std::lock_guard lock(mu_);
    rotations.assign(needing_.begin(), needing_.end());
  }
  onChange_(type, object, rotations);
}

}  // namespace rotor::store::kube
