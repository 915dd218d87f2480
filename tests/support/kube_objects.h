#pragma once

// Small Kubernetes objects the client, reflector and contract tests write.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace rotor::testing {

/** A ConfigMap named `name` holding k=v, with `labels`. */
inline nlohmann::json configMapObject(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  nlohmann::json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
  if (!labels.empty()) cm["metadata"]["labels"] = labels;
  return cm;
}

}  // namespace rotor::testing
