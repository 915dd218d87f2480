#pragma once

// Wakes the rotations that copy their trust bundle into other namespaces
// (spec.trustBundle.namespaceSelector) when a namespace appears, goes or changes its labels, so
// that a namespace that starts matching gets its copy at once rather than at the next resync.
// It watches namespaces only once some rotation copies.

#include <functional>

#include "controller/store/kube/kube_store.h"
#include "controller/store/kube/rotation_triggered_watch.h"

namespace rotor::store::kube {

class NamespaceWatch {
public:
  using Wake = std::function<void(const api::ObjectKey&)>;

  NamespaceWatch(rotor::kube::Client& client, KubeStore& store, Wake wake, RotationTriggeredWatch::OnError onError);

  void rotationChanged(const std::string& type, const nlohmann::json& rotation) {
    watch_.rotationChanged(type, rotation);
  }

private:
  RotationTriggeredWatch watch_;
};

}  // namespace rotor::store::kube
