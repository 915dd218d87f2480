#include "controller/store/kube/kube_store.h"

#include <nlohmann/json.hpp>
#include <set>

#include "controller/kube/rollout.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {
namespace {

using nlohmann::json;
using rotor::kube::kDaemonSets;
using rotor::kube::kDeployments;
using rotor::kube::kPods;
using rotor::kube::kStatefulSets;
using rotor::kube::PatchType;
using rotor::kube::ResourceType;
using rotor::kube::rolloutOf;

const ResourceType* workloadType(const std::string& kind) {
  if (kind == "Deployment") return &kDeployments;
  if (kind == "StatefulSet") return &kStatefulSets;
  if (kind == "DaemonSet") return &kDaemonSets;
  return nullptr;
}

}  // namespace

// ---- reload ----------------------------------------------------------------------------------

Status KubeStore::reload(const CertificateRotation& r, std::string_view server) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  if (!spec->restart) return Status();  // the workload watches its Secret itself
  return restart(spec->restart->kind, r.metadata.ns, spec->restart->name);
}

StatusOr<api::Rollout> KubeStore::rolloutStatus(const CertificateRotation& r, std::string_view server) {
  const api::ServerSpec* spec = store::findServer(r, server);
  if (spec == nullptr)
    return notFound("rotation " + r.metadata.key().toString() + " has no server " + std::string(server));
  if (!spec->restart) return api::Rollout{};
  return rollout(spec->restart->kind, r.metadata.ns, spec->restart->name);
}

Status KubeStore::restart(const std::string& kind, const std::string& ns, const std::string& name) {
  const ResourceType* type = workloadType(kind);
  if (type == nullptr) return invalidArgument("cannot restart a " + kind);
  // What `kubectl rollout restart` does: a new pod-template annotation rolls the pods.
  const json patch = {
      {"spec",
       {{"template",
         {{"metadata", {{"annotations", {{std::string(kRestartedAtAnnotation), formatRfc3339(clock_.now())}}}}}}}}}};
  return client_.patch(*type, ns, name, PatchType::kStrategicMerge, patch).status();
}

StatusOr<api::Rollout> KubeStore::rollout(const std::string& kind, const std::string& ns, const std::string& name) {
  const ResourceType* type = workloadType(kind);
  if (type == nullptr) return invalidArgument("cannot follow a " + kind);
  auto workload = client_.get(*type, ns, name);
  if (!workload.ok()) return workload.status();
  return rolloutOf(kind, *workload);
}

// ---- consumer pods ---------------------------------------------------------------------------

std::set<std::string> KubeStore::bundleNamespaces(const CertificateRotation& r) {
  std::set<std::string> out{r.metadata.ns};
  if (!r.spec.trustBundle.namespaceSelector) return out;
  std::lock_guard lock(copiesMu_);
  if (const auto it = copied_.find(r.key()); it != copied_.end()) {
    out.insert(it->second.namespaces.begin(), it->second.namespaces.end());
  }
  return out;
}

StatusOr<store::PodTally> KubeStore::tallyConsumerPods(const CertificateRotation& r, const store::PodQuery& query) {
  if (!r.spec.adoption.pods) return failedPrecondition("spec.adoption.pods is not set");
  const ConsumerQuery consumers{bundleSource(r.spec.trustBundle), bundleNamespaces(r),
                                r.spec.trustBundle.clusterTrustBundle, r.spec.adoption.pods->selector, query};
  if (podSource_) return podSource_(consumers);
  // No watch (a one-off run): one LIST, of the one namespace or of every namespace.
  ConsumerCounter counter(consumers);
  const std::string ns =
      consumers.namespaces.size() == 1 && !consumers.clusterTrustBundle ? *consumers.namespaces.begin() : "";
  RETURN_IF_ERROR(client_.listEach(kPods, ns, {}, [&](json& pod) { counter.add(summarizePod(pod)); }).status());
  return counter.result();
}

Status KubeStore::restartWorkload(const CertificateRotation& r, const api::WorkloadRef& workload) {
  // A ClusterTrustBundle's readers may be in any namespace; a ConfigMap's only where it is.
  if (!r.spec.trustBundle.clusterTrustBundle && !bundleNamespaces(r).contains(workload.ns)) {
    return failedPrecondition(workload.toString() + " is not in a namespace of the rotation's bundle");
  }
  return restart(workload.kind, workload.ns, workload.name);
}

StatusOr<api::Rollout> KubeStore::workloadRollout(const CertificateRotation&, const api::WorkloadRef& workload) {
  return rollout(workload.kind, workload.ns, workload.name);
}

}  // namespace rotor::store::kube
