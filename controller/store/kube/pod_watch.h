#pragma once

// Keeps the pods of the cluster summarised (ConsumerPodIndex) for the rotations that count their
// consumer pods (spec.adoption.pods), and wakes those rotations when a pod changes, so that a
// pod that restarts with the new bundle is counted at once. It watches pods only once some
// rotation counts them: clusters without such rotations never need the rights.

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <thread>

#include "controller/kube/reflector.h"
#include "controller/store/kube/consumer_pods.h"

namespace rotor::store::kube {

class PodWatch {
public:
  using Wake = std::function<void(const api::ObjectKey&)>;
  using OnError = rotor::kube::Reflector::OnError;

  PodWatch(rotor::kube::Client& client, Wake wake, OnError onError)
      : client_(client), wake_(std::move(wake)), onError_(std::move(onError)) {}
  ~PodWatch();

  /** What the watch of rotations saw: which rotations count pods. The first starts the watch. */
  void rotationChanged(const std::string& type, const nlohmann::json& rotation);

  /** kUnavailable until the first list of pods has arrived. */
  StatusOr<store::PodTally> tally(const ConsumerQuery& query) const;

private:
  void podChanged(const std::string& type, const nlohmann::json& pod);

  rotor::kube::Client& client_;
  Wake wake_;
  OnError onError_;
  ConsumerPodIndex index_;
  mutable std::mutex mu_;
  std::set<api::ObjectKey> counting_;
  std::unique_ptr<rotor::kube::Reflector> reflector_;
  std::jthread watching_;  // last: stopped first
};

}  // namespace rotor::store::kube
