#include "controller/store/kube/namespace_watch.h"

#include <vector>

namespace rotor::store::kube {

NamespaceWatch::~NamespaceWatch() {
  watching_ = {};  // joins the reflector's thread before the reflector goes
}

void NamespaceWatch::rotationChanged(const std::string& type, const nlohmann::json& rotation) {
  const nlohmann::json& metadata = rotation["metadata"];
  const api::ObjectKey key{metadata.value("namespace", ""), metadata.value("name", "")};
  const bool copies = type != "DELETED" && rotation.contains("/spec/trustBundle/namespaceSelector"_json_pointer);
  std::lock_guard lock(mu_);
  if (!copies) {
    copying_.erase(key);
    return;
  }
  copying_.insert(key);
  if (reflector_) return;
  reflector_ = std::make_unique<rotor::kube::Reflector>(
      client_, rotor::kube::kNamespaces, rotor::kube::ReflectorOptions{},
      [this](const std::string&, const nlohmann::json&) { namespaceChanged(); }, onError_);
  watching_ = std::jthread([reflector = reflector_.get()](std::stop_token stop) { reflector->run(stop); });
}

void NamespaceWatch::namespaceChanged() {
  store_.forgetBundleCopies();  // what the last sync found may no longer be all there is
  std::vector<api::ObjectKey> keys;
  {
    std::lock_guard lock(mu_);
    keys.assign(copying_.begin(), copying_.end());
  }
  for (const api::ObjectKey& key : keys) wake_(key);
}

}  // namespace rotor::store::kube
