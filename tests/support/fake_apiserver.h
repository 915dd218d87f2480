#pragma once

// An in-process Kubernetes API server for tests, answering as the kube-apiserver v1.25 recorded
// in tests/data/kube-transcripts does. It speaks HTTP request/response values, so the same
// object serves unit tests directly and the real client over HTTPS (through HttpServer).
//
// It keeps: namespaces, CustomResourceDefinitions (which register their resources, with their
// schema's defaults, pruning and validation, and fieldValidation Strict/Warn/Ignore), and objects
// of any registered resource — create (generateName, namespace checks, status dropped), get,
// list (label selectors, limit/continue paging, continue tokens expired by compaction), update
// with optimistic concurrency (409 on a stale resourceVersion; 422 without one for custom
// resources), merge and JSON patches (strategic merge refused for custom resources), the /status
// subresource, delete (a Success Status, preconditions), managedFields; watches from a watch
// cache (initial events, bookmarks, 410 Expired as an ERROR event, events cut into 2 KiB chunks);
// bearer-token users with per-resource grants (401, 403 with the recorded messages); and faults
// on demand (409 storms, 429 throttling). resourceVersion is one counter across all objects;
// generation counts spec changes. Errors are Status objects with the recorded messages.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/common/clock.h"
#include "controller/http/http.h"
#include "tests/support/fake_watch.h"

namespace rotor::testing {

class FakeApiServer {
public:
  explicit FakeApiServer(const Clock& clock);
  /** The CA that kube-root-ca.crt holds in every namespace, as kube-controller-manager publishes it. */
  void setRootCa(std::string pem);

  http::HttpResponse handle(const http::HttpRequest& request);

  /** The newest resourceVersion handed out. */
  uint64_t resourceVersion() const;

  // ---- authentication and authorization (off until a user is added) ----
  /** A bearer token and its user; an admin may do anything. Unknown tokens get 401, requests
   *  without one are system:anonymous. */
  void addUser(const std::string& token, const std::string& user, bool admin = false);
  /** Lets `user` use `verbs` on a resource ("group/plural", or "group/plural/status"; the core
   *  group is empty: "/secrets") in every namespace and at the cluster scope, as a
   *  ClusterRoleBinding would; or, given `ns`, in that namespace only, as a RoleBinding would. */
  void grant(const std::string& user, const std::set<std::string>& verbs, const std::string& resource,
             const std::string& ns = "");
  /** The requests refused with 403 so far, as "verb group/plural[/sub]" (what RBAC lacks). */
  std::vector<std::string> forbidden() const;
  /** The OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift): an owner
   *  reference with blockOwnerDeletion needs `update` on the owner's finalizers subresource. */
  void enforceOwnerReferencePermissions(bool on);
  /** Serves ClusterTrustBundles (certificates.k8s.io) at `version` ("v1alpha1" as 1.27-1.32 do
   *  behind their feature gate, "v1beta1" as 1.33 does), with the API server's validation and the
   *  ClusterTrustBundleAttest admission plugin: a signer-scoped bundle is written only by who may
   *  `attest` on "certificates.k8s.io/signers" (grant resource). Off until called, as on a server
   *  without the feature. */
  void serveClusterTrustBundles(const std::string& version);

  // ---- watches ----
  /** When bookmarks come (the server's is a minute). */
  void setBookmarkInterval(std::chrono::milliseconds interval);
  /** How many events each resource's watch cache keeps; older watches get 410. */
  void setWatchCacheCapacity(size_t events);
  /** etcd compaction at the current resourceVersion: continue tokens and exact lists from before
   *  it are expired (410). Watches are served from the watch cache and do not notice (43). */
  void compact();
  /** Moves every watch cache's window past all buffered events, as a burst of writes larger than
   *  the cache does: watches from before now get 410 Expired. */
  void expireWatchCache();
  /** Ends every open watch (as an API server restart does); clients must watch again. */
  void endWatches();
  /** Ends every open watch and moves every watch cache's window past where they were, as an API
   *  server restart after other writes does: a watch resuming from before now gets 410 Expired. */
  void expireWatches();
  size_t openWatches() const;
  /** While set, new watches are answered 503 (a watch cache not ready yet): clients retry, and
   *  writes meanwhile reach nobody, which lets a test open a gap deterministically. */
  void refuseWatches(bool refuse);

  // ---- faults ----
  /** Answers the next `count` updates and patches of existing objects with 409 Conflict. */
  void failNextWrites(int count);
  int conflictsLeft() const;
  /** Answers the next `count` requests with 429 and Retry-After: 1. */
  void throttleNextRequests(int count);
  /** While frozen, every request waits unanswered (as an API server whose etcd hangs); thawing
   *  lets them through. */
  void freeze(bool frozen);

private:
  struct Resource {
    std::string group, version, plural, kind;
    bool namespaced = true;
    bool statusSubresource = false;
    bool generation = false;              // spec changes count (custom resources)
    bool requireResourceVersion = false;  // unconditional updates refused (custom resources)
    nlohmann::json schema;                // openAPIV3Schema of a custom resource: its defaults
    std::string singular;                 // discovery of custom resources
    std::vector<std::string> shortNames, categories;
    /** "plural.group" or "plural" for the core group, as messages name it. */
    std::string qualified() const { return group.empty() ? plural : plural + "." + group; }
  };
  struct Target {
    const Resource* resource = nullptr;
    std::string ns, name, subresource;
  };

  std::optional<Target> route(const std::string& path) const;
  /** /version, the health endpoints and API discovery; nullopt for other paths. */
  std::optional<http::HttpResponse> serveInfo(const http::HttpRequest& request);
  http::HttpResponse create(const Target& t, const http::HttpRequest& request, const std::string& query);
  void publishRootCa(const std::string& ns);
  http::HttpResponse get(const Target& t, const std::string& query);
  http::HttpResponse list(const Target& t, const std::string& query);
  http::HttpResponse update(const Target& t, const http::HttpRequest& request);
  /** Defaults and the structural schema of a custom resource on a write: the refusal, or
   *  nullopt with `object` pruned and warnings added for fieldValidation=Warn. */
  std::optional<http::HttpResponse> admitBySchema(const Resource& r, nlohmann::json& object, const std::string& query,
                                                  std::vector<std::pair<std::string, std::string>>& warnings);
  http::HttpResponse patch(const Target& t, const http::HttpRequest& request);
  http::HttpResponse remove(const Target& t, const http::HttpRequest& request);
  void registerCrd(const nlohmann::json& crd);
  /** Event validation of both Event APIs (required fields, MicroTime, namespaces). */
  std::optional<http::HttpResponse> validateEvent(const Resource& r, const nlohmann::json& object) const;
  /** The checks built-in kinds get from the API server that rotor relies on (TLS Secrets, Events). */
  std::optional<http::HttpResponse> validateBuiltIn(const Resource& r, const nlohmann::json& object) const;
  /** A Status's details as the API server fills them: name, group (absent for the core group)
   *  and kind, which is the resource's plural in most answers and its kind in some. */
  static nlohmann::ordered_json details(const Resource& r, const std::string& name, const std::string& kind);
  static http::HttpResponse notFound(const Resource& r, const std::string& name);
  /** 422 Invalid naming each cause ("field: message"; bracketed when more than one). */
  static http::HttpResponse invalid(const Resource& r, const std::string& name, const nlohmann::ordered_json& causes);
  std::string nextResourceVersion();
  std::string key(const Target& t) const;

  /** A SelfSubjectAccessReview (kubectl auth can-i): allowed as the grants say, for any
   *  authenticated user, answered 201 as the API server does. */
  http::HttpResponse reviewAccess(const http::HttpRequest& request);
  /** 401/403 for a request its token may not make, else nullopt. */
  std::optional<http::HttpResponse> authorize(const http::HttpRequest& request, const Target& t,
                                              const std::string& verb);
  /** The caller's user name, or nullopt for an admin (or while authentication is off). */
  std::optional<std::string> callerOf(const http::HttpRequest& request) const;
  bool granted(const std::string& user, const std::string& resource, const std::string& ns,
               const std::string& verb) const;
  /** 403 for an owner reference with blockOwnerDeletion the caller may not set, else nullopt. */
  std::optional<http::HttpResponse> admitOwnerReferences(const http::HttpRequest& request, const Target& t);
  /** The ClusterTrustBundleAttest admission plugin on a create or update of a signer-scoped bundle. */
  std::optional<http::HttpResponse> admitClusterTrustBundle(const http::HttpRequest& request, const Target& t);
  /** ClusterTrustBundle validation: the name's rule for its signer, the PEM trust anchors. */
  std::optional<http::HttpResponse> validateClusterTrustBundle(const Resource& r, const nlohmann::json& object) const;
  http::HttpResponse watch(const Target& t, const std::string& query);
  /** Feeds a stored change to the watch cache and every open watch that selects it. */
  void publish(const Resource& r, const std::string& type, const nlohmann::json& object);
  bool selects(const FakeWatch::Options& o, const nlohmann::json& object) const;
  void tickWatches(std::stop_token stop);

  struct CachedEvent {
    uint64_t resourceVersion;
    std::string type;
    nlohmann::json object;
  };
  struct WatchCache {
    std::deque<CachedEvent> events;
    uint64_t floor = 200;  // watches from below it are too old (the first resourceVersion is 201)
    uint64_t newest = 0;
  };

  const Clock& clock_;
  mutable std::mutex mu_;
  std::mutex frozenMu_;
  std::condition_variable thawed_;
  bool frozen_ = false;
  std::map<std::string, Resource> resources_;      // by "group/version/plural"
  std::map<std::string, nlohmann::json> objects_;  // by "group/plural/ns/name"
  uint64_t resourceVersion_ = 200;
  uint64_t compacted_ = 0;

  struct User {
    std::string name;
    bool admin = false;
  };
  std::map<std::string, User> users_;  // by token
  // user -> resource -> namespace ("" for a cluster-wide grant) -> verbs
  std::map<std::string, std::map<std::string, std::map<std::string, std::set<std::string>>>> grants_;
  std::vector<std::string> forbidden_;
  bool enforceOwnerReferences_ = false;

  std::string rootCaPem_;
  std::map<std::string, WatchCache> watchCaches_;  // by "group/plural"
  std::vector<std::shared_ptr<FakeWatch>> watches_;
  std::chrono::milliseconds bookmarkInterval_ = std::chrono::seconds(60);
  size_t watchCacheCapacity_ = 1000;
  int conflictingWrites_ = 0;
  int throttledRequests_ = 0;
  bool watchesRefused_ = false;
  std::jthread ticker_;  // last: stops before what it ticks goes
};

}  // namespace rotor::testing
