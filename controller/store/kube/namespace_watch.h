#pragma once

// Wakes the rotations that copy their trust bundle into other namespaces
// (spec.trustBundle.namespaceSelector) when a namespace appears, goes or changes its labels, so
// that a namespace that starts matching gets its copy at once rather than at the next resync.
// It watches namespaces only once some rotation copies: clusters without copies never need the
// rights.

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>

#include "controller/kube/reflector.h"
#include "controller/store/kube/kube_store.h"

namespace rotor::store::kube {

class NamespaceWatch {
public:
  using Wake = std::function<void(const api::ObjectKey&)>;
  using OnError = rotor::kube::Reflector::OnError;

  NamespaceWatch(rotor::kube::Client& client, KubeStore& store, Wake wake, OnError onError)
      : client_(client), store_(store), wake_(std::move(wake)), onError_(std::move(onError)) {}
  ~NamespaceWatch();

  /** What the watch of rotations saw ("ADDED", "MODIFIED", "DELETED" and the object): which
   *  rotations copy their bundle. The first one that does starts the watch of namespaces. */
  void rotationChanged(const std::string& type, const nlohmann::json& rotation);

private:
  void namespaceChanged();

  rotor::kube::Client& client_;
  KubeStore& store_;
  Wake wake_;
  OnError onError_;
  std::mutex mu_;
  std::set<api::ObjectKey> copying_;
  std::unique_ptr<rotor::kube::Reflector> reflector_;
  std::jthread watching_;  // last: stopped first
};

}  // namespace rotor::store::kube
