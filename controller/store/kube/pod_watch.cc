#include "controller/store/kube/pod_watch.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace rotor::store::kube {

PodWatch::~PodWatch() {
  watching_ = {};  // joins the reflector's thread before the reflector goes
}

void PodWatch::rotationChanged(const std::string& type, const nlohmann::json& rotation) {
  const nlohmann::json& metadata = rotation["metadata"];
  const api::ObjectKey key{metadata.value("namespace", ""), metadata.value("name", "")};
  const bool counts = type != "DELETED" && rotation.contains("/spec/adoption/pods"_json_pointer);
  std::lock_guard lock(mu_);
  if (!counts) {
    counting_.erase(key);
    return;
  }
  counting_.insert(key);
  if (reflector_) return;
  reflector_ = std::make_unique<rotor::kube::Reflector>(
      client_, rotor::kube::kPods, rotor::kube::ReflectorOptions{},
      [this](const std::string& event, const nlohmann::json& pod) { podChanged(event, pod); }, onError_);
  watching_ = std::jthread([reflector = reflector_.get()](std::stop_token stop) { reflector->run(stop); });
}

StatusOr<store::PodTally> PodWatch::tally(const ConsumerQuery& query) const {
  {
    std::lock_guard lock(mu_);
    if (!reflector_ || !reflector_->synced()) return unavailable("the list of pods has not arrived yet");
  }
  return index_.tally(query);
}

void PodWatch::podChanged(const std::string& type, const nlohmann::json& pod) {
  if (!index_.apply(type, pod)) return;  // nothing adoption looks at changed
  std::vector<api::ObjectKey> keys;
  {
    std::lock_guard lock(mu_);
    keys.assign(counting_.begin(), counting_.end());
  }
  for (const api::ObjectKey& key : keys) wake_(key);
}

}  // namespace rotor::store::kube
