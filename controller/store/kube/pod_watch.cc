#include "controller/store/kube/pod_watch.h"

namespace rotor::store::kube {

PodWatch::PodWatch(rotor::kube::Client& client, Wake wake, RotationTriggeredWatch::OnError onError)
    : watch_(
          client, rotor::kube::kPods, "/spec/adoption/pods"_json_pointer,
          [this, wake = std::move(wake)](const std::string& type, const nlohmann::json& pod,
                                         const std::vector<api::ObjectKey>& rotations) {
            if (!index_.apply(type, pod)) return;  // nothing adoption looks at changed
            for (const api::ObjectKey& key : rotations) wake(key);
          },
          std::move(onError)) {}

StatusOr<store::PodTally> PodWatch::tally(const ConsumerQuery& query) const {
  if (!watch_.synced()) {
    const std::string error = watch_.lastError();
    return unavailable("the list of pods has not arrived yet" + (error.empty() ? "" : " (" + error + ")"));
  }
  return index_.tally(query);
}

}  // namespace rotor::store::kube
