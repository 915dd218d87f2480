// spec.trustBundle.clusterTrustBundle: a cluster-scoped ClusterTrustBundle holding the bundle.
// Not owned by the rotation (a cluster-scoped object cannot have a namespaced owner): it carries
// the bundle-source annotation as copies do, and is removed by rotationGone and collectOrphans.

#include <nlohmann/json.hpp>

#include "controller/common/strings.h"
#include "controller/store/kube/kube_store.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {
namespace {

using nlohmann::json;
using rotor::kube::ResourceType;

/** The annotation listing the label keys rotor set (spec.trustBundle.clusterTrustBundle.labels),
 *  so that a key dropped from the spec is removed and others' labels are kept. */
constexpr std::string_view kLabelsAnnotation = "rotor.dev/labels";

std::string labelKeysOf(const json& object) {
  return object.value("/metadata/annotations"_json_pointer, json::object()).value(std::string(kLabelsAnnotation), "");
}

std::string labelKeys(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [key, value] : labels) out += (out.empty() ? "" : ",") + key;
  return out;
}

/** Whether `object` holds `pem` and exactly the labels the spec gives (besides others' labels). */
bool holds(const json& object, const api::ClusterTrustBundleSpec& spec, const std::string& pem) {
  if (object.value("/spec/trustBundle"_json_pointer, std::string()) != pem) return false;
  if (labelKeysOf(object) != labelKeys(spec.labels)) return false;
  const json labels = object.value("/metadata/labels"_json_pointer, json::object());
  for (const auto& [key, value] : spec.labels) {
    if (labels.value(key, json()) != value) return false;
  }
  return true;
}

/** Makes `object` hold `pem` and the spec's labels; labels rotor set before and the spec dropped go. */
void fill(json& object, const api::ClusterTrustBundleSpec& spec, const std::string& pem) {
  json& metadata = object["metadata"];
  for (const std::string& old : split(labelKeysOf(object), ',')) {
    if (!old.empty() && !spec.labels.contains(old) && metadata.contains("labels")) metadata["labels"].erase(old);
  }
  for (const auto& [key, value] : spec.labels) metadata["labels"][key] = value;
  metadata["annotations"][std::string(kLabelsAnnotation)] = labelKeys(spec.labels);
  if (!spec.signerName.empty()) object["spec"]["signerName"] = spec.signerName;
  object["spec"]["trustBundle"] = pem;
}

}  // namespace

StatusOr<const ResourceType*> KubeStore::clusterTrustBundleType() {
  const MonotonicTime now = clock_.monotonicNow();
  {
    std::lock_guard lock(copiesMu_);
    if (clusterTrustBundles_.type != nullptr || now < clusterTrustBundles_.recheckAt) return clusterTrustBundles_.type;
  }
  const ResourceType* found = nullptr;
  for (const ResourceType* type :
       {&rotor::kube::kClusterTrustBundlesV1beta1, &rotor::kube::kClusterTrustBundlesV1alpha1}) {
    ASSIGN_OR_RETURN(const bool served, client_.serves(*type));
    if (served) {
      found = type;
      break;
    }
  }
  std::lock_guard lock(copiesMu_);
  // An API server without it may gain it (a feature gate turned on): asked again after a while.
  clusterTrustBundles_ = {found, now + kCopiesRecheck};
  return found;
}

Status KubeStore::removeClusterTrustBundle(const std::string& name, const std::string& source) {
  ASSIGN_OR_RETURN(const ResourceType* type, clusterTrustBundleType());
  if (type == nullptr) return okStatus();  // none can exist
  auto object = client_.get(*type, "", name);
  if (isNotFound(object)) return okStatus();
  RETURN_IF_ERROR(object.status());
  // Only what this rotation made, and only as it was read: one taken over meanwhile stays.
  if (bundleSourceOf(*object) != source) return okStatus();
  Status removed = removeAsRead(client_, *type, *object);
  if (removed.code() == Code::kNotFound || removed.code() == Code::kConflict) return okStatus();
  return removed.withContext("could not remove ClusterTrustBundle " + name);
}

StatusOr<std::optional<api::ClusterTrustBundleStatus>> KubeStore::syncClusterTrustBundle(const CertificateRotation& r,
                                                                                         const std::string& bundlePem) {
  const std::optional<api::ClusterTrustBundleSpec>& spec = r.spec.trustBundle.clusterTrustBundle;
  const std::string source = r.metadata.ns + "/" + r.metadata.name;
  // One the spec named before and no longer does: removed.
  if (r.status.bundleCopies && r.status.bundleCopies->clusterTrustBundle &&
      (!spec || spec->name != r.status.bundleCopies->clusterTrustBundle->name)) {
    RETURN_IF_ERROR(removeClusterTrustBundle(r.status.bundleCopies->clusterTrustBundle->name, source));
  }
  if (!spec) return std::optional<api::ClusterTrustBundleStatus>();
  api::ClusterTrustBundleStatus status;
  status.name = spec->name;
  ASSIGN_OR_RETURN(const ResourceType* type, clusterTrustBundleType());
  if (type == nullptr) {
    status.message =
        "the API server serves no ClusterTrustBundle API (certificates.k8s.io/v1beta1 from Kubernetes 1.33; "
        "v1alpha1 in 1.27-1.32 with the ClusterTrustBundle feature gate and its runtime config)";
    return std::optional(status);
  }
  status.apiVersion = type->apiVersion();
  {
    std::lock_guard lock(copiesMu_);
    copied_[r.key()].clusterTrustBundle = spec->name;
  }
  auto existing = client_.get(*type, "", spec->name);
  Status written = okStatus();
  if (isNotFound(existing)) {
    json object = {{"apiVersion", type->apiVersion()},
                   {"kind", type->kind},
                   {"metadata",
                    {{"name", spec->name},
                     {"labels", {{std::string(kPartLabel), std::string(kClusterTrustBundlePart)}}},
                     {"annotations", {{std::string(kBundleSourceAnnotation), source}}}}}};
    fill(object, *spec, bundlePem);
    written = client_.create(*type, "", object).status();
  } else if (!existing.ok()) {
    return existing.status();
  } else if (bundleSourceOf(*existing) != source) {
    status.foreign = true;
    status.message = "ClusterTrustBundle " + spec->name + " was not created by rotor for this rotation: left alone";
    return std::optional(status);
  } else if (!holds(*existing, *spec, bundlePem)) {
    fill(*existing, *spec, bundlePem);
    written = client_.update(*type, "", *existing).status();
  }
  switch (written.code()) {
    case Code::kOk:
      status.current = true;
      break;
    case Code::kConflict:
    case Code::kAlreadyExists:
      status.message = "written meanwhile by another; looked at again at the next sync";
      break;
    case Code::kPermissionDenied:
    case Code::kInvalidArgument:
      // The API server's answer says why: no attest right on the signer, a bundle it refuses.
      status.message = written.message();
      break;
    default:
      return written;
  }
  return std::optional(status);
}

}  // namespace rotor::store::kube
