#pragma once

// The fields of Kubernetes objects every part of the Kubernetes store reads or writes: versions,
// ownership and Secret values.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "controller/common/status.h"
#include "controller/kube/client.h"

namespace rotor::store::kube {

/** metadata.resourceVersion, or empty. */
std::string resourceVersionOf(const nlohmann::json& object);

/** Whether `object` belongs to the rotation with `uid` (not to one deleted under the same name). */
bool ownedBy(const nlohmann::json& object, const std::string& uid);

/** A Secret's data[key] decoded, or nullopt when absent or not base64. */
std::optional<std::string> secretValue(const nlohmann::json& secret, const std::string& key);
void setSecretValue(nlohmann::json& secret, const std::string& key, const std::string& value);

/** The rotation ("namespace/name") whose bundle `object` is rotor's copy of (a copy in another
 *  namespace, a ClusterTrustBundle); empty: none. */
std::string bundleSourceOf(const nlohmann::json& object);

/** Removes `object` as it was read (uid and resourceVersion preconditions): one replaced or
 *  changed meanwhile stays. */
Status removeAsRead(rotor::kube::Client& client, const rotor::kube::ResourceType& type, const nlohmann::json& object);

/** NotFound becomes "absent" for reads that allow it. */
template <typename T>
bool isNotFound(const StatusOr<T>& s) {
  return !s.ok() && s.status().code() == Code::kNotFound;
}

}  // namespace rotor::store::kube
