#pragma once

// A small Kubernetes API client over a Transport: typed paths for the resources rotor uses, JSON
// objects in and out, every error answer decoded from its Status object (api_error.h).

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/kube/transport.h"

namespace rotor::kube {

using nlohmann::json;

/** Where a kind lives in the API. */
struct ResourceType {
  std::string_view group;  // empty for the core group
  std::string_view version;
  std::string_view plural;
  std::string_view kind;
  bool namespaced = true;

  /** "v1" or "group/version". */
  std::string apiVersion() const;
  /** The collection's path, or an object's (and its subresource's) when `name` is given. */
  std::string path(std::string_view ns, std::string_view name = {}, std::string_view subresource = {}) const;
};

inline constexpr ResourceType kRotations{"rotor.dev", "v1alpha1", "certificaterotations", "CertificateRotation"};
inline constexpr ResourceType kSecrets{"", "v1", "secrets", "Secret"};
inline constexpr ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap"};
inline constexpr ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease"};
inline constexpr ResourceType kEvents{"events.k8s.io", "v1", "events", "Event"};
inline constexpr ResourceType kDeployments{"apps", "v1", "deployments", "Deployment"};
inline constexpr ResourceType kStatefulSets{"apps", "v1", "statefulsets", "StatefulSet"};
inline constexpr ResourceType kDaemonSets{"apps", "v1", "daemonsets", "DaemonSet"};
inline constexpr ResourceType kPods{"", "v1", "pods", "Pod"};
inline constexpr ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline constexpr ResourceType kSelfSubjectAccessReviews{"authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                                                        "SelfSubjectAccessReview", false};

/** ClusterTrustBundles: beta from Kubernetes 1.33; alpha behind the ClusterTrustBundle feature
 *  gate (and runtime config) in 1.27-1.32. Client::serves says which a server has. */
inline constexpr ResourceType kClusterTrustBundlesV1beta1{"certificates.k8s.io", "v1beta1", "clustertrustbundles",
                                                          "ClusterTrustBundle", false};
inline constexpr ResourceType kClusterTrustBundlesV1alpha1{"certificates.k8s.io", "v1alpha1", "clustertrustbundles",
                                                           "ClusterTrustBundle", false};

enum class PatchType { kMerge, kJson, kStrategicMerge };

struct ListOptions {
  std::string labelSelector;
  /** Every resource supports metadata.name and metadata.namespace ("metadata.name=ca-bundle"). */
  std::string fieldSelector;
  /** Page size: the whole collection is read in pages of this many (limit/continue). */
  int pageSize = 500;
};

struct ObjectList {
  std::vector<json> items;
  /** The list's resourceVersion: where a watch that follows it starts. */
  std::string resourceVersion;
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  int timeoutSeconds = 300;
  bool allowBookmarks = true;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  json object;
};

/** How a delete goes: preconditions (it fails with kConflict unless the object still has them),
 *  and the grace period (a kubelet confirms a pod's deletion with 0). */
struct DeleteOptions {
  std::string uid;
  std::string resourceVersion;
  std::optional<int> gracePeriodSeconds;
};

struct ClientOptions {
  /** Retries of an answer 429 (or 503 with Retry-After), each after the time the server asks
   *  for (capped at maxRetryAfter). */
  int throttledRetries = 3;
  std::chrono::seconds maxRetryAfter{10};
  /** How the client waits; tests replace it. */
  std::function<void(std::chrono::seconds)> sleep;
};

class Client {
public:
  explicit Client(Transport& transport, ClientOptions options = {});

  /** kNotFound when absent. */
  StatusOr<json> get(const ResourceType& type, std::string_view ns, std::string_view name);
  /** The whole collection (all namespaces when `ns` is empty), page by page. A continue token
   *  that expired (410) restarts the list once from the beginning. */
  StatusOr<ObjectList> list(const ResourceType& type, std::string_view ns, const ListOptions& options = {});
  /**
   * The same pages handed over item by item, so that no more than a page is held at once (a
   * controller's relist of thousands of objects). Returns the list's resourceVersion. After an
   * expired continue token the list starts over once: `restarted` is called, then items come again
   * from the first.
   */
  StatusOr<std::string> listEach(const ResourceType& type, std::string_view ns, const ListOptions& options,
                                 const std::function<void(json& item)>& onItem,
                                 const std::function<void()>& restarted = nullptr);
  /** kAlreadyExists when the name is taken. Returns the object as stored. */
  StatusOr<json> create(const ResourceType& type, std::string_view ns, const json& object);
  /** PUT of the whole object; kConflict when its metadata.resourceVersion is stale. */
  StatusOr<json> update(const ResourceType& type, std::string_view ns, const json& object);
  /** PUT to /status: only the status is written, with the same version rule. */
  StatusOr<json> updateStatus(const ResourceType& type, std::string_view ns, const json& object);
  StatusOr<json> patch(const ResourceType& type, std::string_view ns, std::string_view name, PatchType patchType,
                       const json& patch);
  /** POST to an object's subresource (a pod's binding or eviction): what the server answers. */
  StatusOr<json> createSubresource(const ResourceType& type, std::string_view ns, std::string_view name,
                                   std::string_view subresource, const json& object);
  /** Whether this client's user may `verb` `type` in `ns` (every namespace when empty), asked as
   *  `kubectl auth can-i` asks (a SelfSubjectAccessReview, which every authenticated user may
   *  create): a right that is optional is checked without a request the server refuses. */
  StatusOr<bool> allowed(std::string_view verb, const ResourceType& type, std::string_view ns);
  /** Whether the server serves `type` at its group and version, as discovery (`kubectl
   *  api-resources`) finds it: false when the version or the resource is not served. */
  StatusOr<bool> serves(const ResourceType& type);
  /** kNotFound when absent; kConflict when a precondition no longer holds. */
  Status remove(const ResourceType& type, std::string_view ns, std::string_view name,
                const DeleteOptions& options = {});

  /**
   * One watch request: calls `onEvent` for each event until the server ends the stream (its
   * timeout), `stop`, or an error. kGone when the resourceVersion is too old, whether the server
   * says so with 410 or with an ERROR event; other ERROR events become their Status's code.
   */
  Status watch(const ResourceType& type, std::string_view ns, const WatchOptions& options,
               const std::function<void(const WatchEvent&)>& onEvent, std::stop_token stop);

private:
  /** Sends, retrying throttled answers; error answers become their decoded Status. */
  StatusOr<json> call(const ApiRequest& request);

  Transport& transport_;
  ClientOptions options_;
};

/** The error an answer carries, or OK for 2xx. */
Status statusOfAnswer(const ApiResponse& response);

}  // namespace rotor::kube
