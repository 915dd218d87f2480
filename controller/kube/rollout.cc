#include "controller/kube/rollout.h"

#include <nlohmann/json.hpp>

namespace rotor::kube {
namespace {

using nlohmann::json;

int64_t number(const json& object, const char* pointer, int64_t fallback = 0) {
  const json& at = object.value(json::json_pointer(pointer), json(fallback));
  return at.is_number_integer() ? at.get<int64_t>() : fallback;
}

api::Rollout waiting(const std::string& kind, const json& workload, const std::string& what) {
  return {false, kind + " " + workload.value("/metadata/name"_json_pointer, std::string()) + ": " + what};
}

std::string of(int64_t part, int64_t whole) { return std::to_string(part) + " of " + std::to_string(whole); }

}  // namespace

api::Rollout rolloutOf(const std::string& kind, const json& workload) {
  if (number(workload, "/status/observedGeneration") < number(workload, "/metadata/generation")) {
    return waiting(kind, workload, "waiting for its controller to see the restart");
  }
  if (kind == "Deployment") {
    for (const json& c : workload.value("/status/conditions"_json_pointer, json::array())) {
      if (c.value("type", "") == "Progressing" && c.value("reason", "") == "ProgressDeadlineExceeded") {
        return waiting(kind, workload, "exceeded its progress deadline");
      }
    }
    const int64_t wanted = number(workload, "/spec/replicas", 1);
    const int64_t updated = number(workload, "/status/updatedReplicas");
    const int64_t total = number(workload, "/status/replicas");
    const int64_t available = number(workload, "/status/availableReplicas");
    if (updated < wanted) return waiting(kind, workload, of(updated, wanted) + " new replicas have been updated");
    if (total > updated)
      return waiting(kind, workload, std::to_string(total - updated) + " old replicas are pending termination");
    if (available < updated) return waiting(kind, workload, of(available, updated) + " updated replicas are available");
  } else if (kind == "StatefulSet") {
    if (workload.value("/spec/updateStrategy/type"_json_pointer, std::string("RollingUpdate")) != "RollingUpdate") {
      return {};  // OnDelete: pods change only when someone deletes them
    }
    const int64_t wanted = number(workload, "/spec/replicas", 1);
    const int64_t updated = number(workload, "/status/updatedReplicas");
    const int64_t ready = number(workload, "/status/readyReplicas");
    if (updated < wanted) return waiting(kind, workload, of(updated, wanted) + " pods have been updated");
    if (ready < wanted) return waiting(kind, workload, of(ready, wanted) + " pods are ready");
    if (workload.value("/status/currentRevision"_json_pointer, std::string()) !=
        workload.value("/status/updateRevision"_json_pointer, std::string())) {
      return waiting(kind, workload, "waiting for the update to finish");
    }
  } else if (kind == "DaemonSet") {
    const int64_t wanted = number(workload, "/status/desiredNumberScheduled");
    const int64_t updated = number(workload, "/status/updatedNumberScheduled");
    const int64_t available = number(workload, "/status/numberAvailable");
    if (updated < wanted) return waiting(kind, workload, of(updated, wanted) + " new pods have been updated");
    if (available < wanted) return waiting(kind, workload, of(available, wanted) + " updated pods are available");
  }
  return {};
}

}  // namespace rotor::kube
