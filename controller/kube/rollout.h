#pragma once

// Whether a restarted workload has rolled out, judged from its object as `kubectl rollout status`
// judges it: the controller saw the new template (observedGeneration), every replica runs it
// (updated), no old replica is left, and the updated ones are available.

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "controller/api/rotation.h"

namespace rotor::kube {

/** The rollout of a Deployment, StatefulSet or DaemonSet (`kind`) from the object as read. */
api::Rollout rolloutOf(const std::string& kind, const nlohmann::json& workload);

}  // namespace rotor::kube
