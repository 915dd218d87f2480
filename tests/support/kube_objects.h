#pragma once

// Small Kubernetes objects the client, reflector and contract tests write.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/common/clock.h"

namespace rotor::testing {

/** A ConfigMap named `name` holding k=v, with `labels`. */
/** A CertificateRotation `name` as a user applies it: one server, a generated CA, a ConfigMap bundle. */
inline nlohmann::json rotationObject(const std::string& name, int threshold = 100) {
  return {{"apiVersion", "rotor.dev/v1alpha1"},
          {"kind", "CertificateRotation"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"certificate", {{"commonName", name + ".example.com"}}},
            {"servers", nlohmann::json::array({{{"name", "web"}, {"secretName", name + "-tls"}}})},
            {"ca", {{"generate", {{"commonName", "Contract CA"}}}}},
            {"trustBundle", {{"configMapName", name + "-ca"}}},
            {"adoption", {{"threshold", threshold}}}}}};
}

inline nlohmann::json configMapObject(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  nlohmann::json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
  if (!labels.empty()) cm["metadata"]["labels"] = labels;
  return cm;
}

/** A pod whose container "app" mounts ConfigMap `configMap`, as a client reads its trust bundle at
 *  start. Its image is never pulled: no kubelet runs it, tests write its status instead. */
inline nlohmann::json consumerPodObject(const std::string& name, const std::string& configMap) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"automountServiceAccountToken", false},
            {"volumes", nlohmann::json::array({{{"name", "trust"}, {"configMap", {{"name", configMap}}}}})},
            {"containers",
             nlohmann::json::array(
                 {{{"name", "app"},
                   {"image", "registry.invalid/client:1"},
                   {"volumeMounts", nlohmann::json::array({{{"name", "trust"}, {"mountPath", "/etc/trust"}}})}}})}}}};
}

/** What a kubelet writes into a pod's status once its containers run, started at `startedAt`. */
inline nlohmann::json runningPodStatus(const nlohmann::json& pod, SystemTime startedAt) {
  nlohmann::json statuses = nlohmann::json::array();
  for (const nlohmann::json& c : pod["spec"]["containers"]) {
    statuses.push_back({{"name", c["name"]},
                        {"image", c["image"]},
                        {"imageID", ""},
                        {"ready", true},
                        {"restartCount", 0},
                        {"started", true},
                        {"state", {{"running", {{"startedAt", formatRfc3339(startedAt)}}}}}});
  }
  return {{"phase", "Running"}, {"startTime", formatRfc3339(startedAt)}, {"containerStatuses", statuses}};
}

}  // namespace rotor::testing
