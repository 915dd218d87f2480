#pragma once

// Keeps the pods of the cluster summarised (ConsumerPodIndex) for the rotations that count their
// consumer pods (spec.adoption.pods), and wakes those rotations when a pod changes, so that a
// pod that restarts with the new bundle is counted at once. It watches pods only once some
// rotation counts them.

#include <functional>

#include "controller/store/kube/consumer_pods.h"
#include "controller/store/kube/rotation_triggered_watch.h"

namespace rotor::store::kube {

class PodWatch {
public:
  using Wake = std::function<void(const api::ObjectKey&)>;

  PodWatch(rotor::kube::Client& client, Wake wake, RotationTriggeredWatch::OnError onError);

  void rotationChanged(const std::string& type, const nlohmann::json& rotation) {
    watch_.rotationChanged(type, rotation);
  }
  /** kUnavailable until the first list of pods has arrived. */
  StatusOr<store::PodTally> tally(const ConsumerQuery& query) const;

private:
  ConsumerPodIndex index_;
  RotationTriggeredWatch watch_;  // after the index it fills
};

}  // namespace rotor::store::kube
