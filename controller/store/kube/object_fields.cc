#include "controller/store/kube/object_fields.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "controller/pki/base64.h"
#include "controller/store/kube/layout.h"

namespace rotor::store::kube {

using nlohmann::json;

std::string resourceVersionOf(const json& object) {
  return object.value("/metadata/resourceVersion"_json_pointer, std::string());
}

bool ownedBy(const json& object, const std::string& uid) {
  const json refs = object.value("/metadata/ownerReferences"_json_pointer, json::array());
  return std::any_of(refs.begin(), refs.end(), [&](const json& ref) { return ref.value("uid", "") == uid; });
}

std::optional<std::string> secretValue(const json& secret, const std::string& key) {
  const json data = secret.value("data", json::object());
  if (!data.contains(key) || !data[key].is_string()) return std::nullopt;
  auto decoded = pki::base64Decode(data[key].get<std::string>());
  return decoded.ok() ? std::optional<std::string>(*decoded) : std::nullopt;
}

void setSecretValue(json& secret, const std::string& key, const std::string& value) {
  secret["data"][key] = pki::base64Encode(value);
}

std::string bundleSourceOf(const json& object) {
  return object.value("/metadata/annotations"_json_pointer, json::object())
      .value(std::string(kBundleSourceAnnotation), "");
}

Status removeAsRead(rotor::kube::Client& client, const rotor::kube::ResourceType& type, const json& object) {
  return client.remove(
      type, object.value("/metadata/namespace"_json_pointer, std::string()),
      object.value("/metadata/name"_json_pointer, std::string()),
      {.uid = object.value("/metadata/uid"_json_pointer, std::string()), .resourceVersion = resourceVersionOf(object)});
}

}  // namespace rotor::store::kube
