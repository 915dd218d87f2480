#pragma once

// The Store on a Kubernetes API server. Where each thing lives (docs/kubernetes.md):
//   rotation          the CertificateRotation; status through /status
//   CA material       Secret <rotation>-rotor-ca (Opaque; owned by the rotation)
//   served material   the kubernetes.io/tls Secret spec.servers[].secretName (tls.crt, tls.key,
//                     ca.crt); not owned: it is the workload's and outlives the rotation
//   trust bundle      ConfigMap spec.trustBundle.configMapName (or Secret spec.trustBundle.secretName),
//                     key spec.trustBundle.key, a truststore beside it (spec.trustBundle.truststore); copies of
//                     the same name in the namespaces spec.trustBundle.namespaceSelector matches
//                     (labelled, annotated with their source; not owned: owners cannot be in
//                     another namespace)
//   snapshots         immutable Secrets <rotation>-snap-r<revision>-<purpose>, owned by the rotation
//   agent records     ConfigMaps <rotation>-agents-<shard>: records hashed over shards so that
//                     each stays far below the 1 MiB object limit (owned)
//   agent tokens      Secret <rotation>-rotor-agent-tokens: SHA-256 digests only (owned)
//   reload            a pod-template annotation patched on spec.servers[].restart's workload
// Versions are resourceVersions, so every write is optimistic as the Store contract requires.

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <set>

#include "controller/kube/client.h"
#include "controller/store/kube/consumer_pods.h"
#include "controller/store/kube/layout.h"
#include "controller/store/store.h"

namespace rotor::store::kube {

struct KubeStoreOptions {
  /** Where rotations are read from; empty: every namespace. */
  std::string watchNamespace;
  /** Agent record shards per rotation (at most 900 KiB compressed each): about 30,000 agents with
   *  ids like UUIDs per shard, so about a million per rotation at 32. */
  int agentShards = 32;
};

class KubeStore final : public store::Store {
public:
  KubeStore(rotor::kube::Client& client, const Clock& clock, KubeStoreOptions options = {})
      : client_(client), clock_(clock), options_(std::move(options)) {}

  StatusOr<std::vector<store::CertificateRotation>> listRotations(const std::string& ns) override;
  StatusOr<store::CertificateRotation> getRotation(const store::ObjectKey& key) override;
  StatusOr<store::CertificateRotation> applyRotation(const store::CertificateRotation& desired) override;
  Status updateRotation(store::CertificateRotation& rotation) override;
  Status updateRotationStatus(store::CertificateRotation& rotation) override;
  Status deleteRotation(const store::ObjectKey& key) override;

  StatusOr<store::Versioned<store::Authorities>> readAuthorities(const store::CertificateRotation& r) override;
  Status writeAuthorities(const store::CertificateRotation& r, const store::Authorities& authorities,
                          const store::Version& expected) override;
  StatusOr<store::AuthorityMaterial> readCustomAuthority(const store::CertificateRotation& r) override;

  StatusOr<store::Versioned<std::optional<store::ServedMaterial>>> readServed(const store::CertificateRotation& r,
                                                                              std::string_view server) override;
  Status writeServed(const store::CertificateRotation& r, std::string_view server,
                     const store::ServedMaterial& material, const store::Version& expected) override;

  StatusOr<store::Versioned<std::optional<std::string>>> readBundle(const store::CertificateRotation& r) override;
  Status writeBundle(const store::CertificateRotation& r, const std::string& bundlePem,
                     const store::Version& expected) override;

  /** Namespaces from one LIST with the selector, existing copies from one LIST of every ConfigMap
   *  of the bundle's name (a field selector). A sync that found every copy current is not
   *  repeated for kCopiesRecheck while the bundle, selector and names stay the same, so that a
   *  reconcile woken by check-ins costs the API server nothing. */
  StatusOr<api::BundleCopiesStatus> syncBundleCopies(const store::CertificateRotation& r,
                                                     const std::string& bundlePem) override;
  static constexpr Duration kCopiesRecheck = std::chrono::seconds(30);
  /** Deletes the copies the last sync of `key` in this process made (a rotation deleted while no
   *  controller ran leaves its copies: docs/rbac.md). */
  Status rotationGone(const store::ObjectKey& key) override;
  StatusOr<size_t> collectOrphans(const std::vector<store::ObjectKey>& rotations) override;
  /** Namespaces changed (NamespaceWatch): the next sync of every rotation looks again. */
  void forgetBundleCopies();

  /** Judged from `podSource` (a PodWatch) when given one; otherwise from one LIST of pods. */
  StatusOr<store::PodTally> tallyConsumerPods(const store::CertificateRotation& r,
                                              const store::PodQuery& query) override;
  Status restartWorkload(const store::CertificateRotation& r, const api::WorkloadRef& workload) override;
  StatusOr<api::Rollout> workloadRollout(const store::CertificateRotation& r,
                                         const api::WorkloadRef& workload) override;
  using PodSource = std::function<StatusOr<store::PodTally>(const ConsumerQuery&)>;
  /** Where consumer pods are counted from from now on (set before reconciling starts). */
  void countPodsWith(PodSource podSource) { podSource_ = std::move(podSource); }

  Status putSnapshot(const store::CertificateRotation& r, const store::Snapshot& snapshot) override;
  StatusOr<store::Snapshot> getSnapshot(const store::CertificateRotation& r, std::string_view name) override;
  StatusOr<std::vector<std::string>> listSnapshots(const store::CertificateRotation& r) override;

  Status reload(const store::CertificateRotation& r, std::string_view server) override;
  StatusOr<api::Rollout> rolloutStatus(const store::CertificateRotation& r, std::string_view server) override;

  Status visitAgents(const store::ObjectKey& key, const std::function<void(const store::AgentRecord&)>& visit) override;
  Status putAgents(const store::ObjectKey& key, const std::vector<store::AgentRecord>& agents) override;
  uint32_t agentGroups() const override { return static_cast<uint32_t>(options_.agentShards); }

  StatusOr<std::vector<std::string>> readAgentTokenDigests(const store::ObjectKey& key) override;
  Status addAgentTokenDigest(const store::ObjectKey& key, const std::string& digestHex) override;

private:
  /** The rotation's raw object (for its uid and for updates that keep fields rotor does not own). */
  StatusOr<nlohmann::json> getRaw(const store::ObjectKey& key);
  /** A new object of `type` named `name` for rotation `r`: labelled, and owned by it when `owned`. */
  nlohmann::json newObject(const rotor::kube::ResourceType& type, const store::CertificateRotation& r,
                           const std::string& name, std::string_view part, bool owned) const;
  /**
   * Optimistic write of one object: with an empty `expected` it creates `fresh` (a name taken
   * meanwhile is kConflict); otherwise it reads the object, which must still be at `expected`,
   * and writes it back after `fill`, keeping fields others own (labels, annotations).
   */
  Status writeVersioned(const rotor::kube::ResourceType& type, const std::string& ns, const nlohmann::json& fresh,
                        const store::Version& expected, const std::function<void(nlohmann::json&)>& fill);
  /** Reads, changes and writes one object until no one wrote in between (a few tries). With
   *  `known` (the object as last written, or null), its first try starts from that instead of a
   *  read; `known` then holds the object as written, or null when the write failed. */
  Status modify(const rotor::kube::ResourceType& type, const std::string& ns, const nlohmann::json& fresh,
                const std::function<Status(nlohmann::json&)>& change, nlohmann::json* known = nullptr);

  /** Restarts a workload as `kubectl rollout restart` does; its rollout as `kubectl rollout status`. */
  Status restart(const std::string& kind, const std::string& ns, const std::string& name);
  StatusOr<api::Rollout> rollout(const std::string& kind, const std::string& ns, const std::string& name);
  /** The rotation's namespace and those its bundle was last copied into. */
  std::set<std::string> bundleNamespaces(const store::CertificateRotation& r);

  /** spec.trustBundle.clusterTrustBundle's object made to hold `bundlePem` (and one the status
   *  names that the spec no longer does removed); nullopt when the spec asks for none. */
  StatusOr<std::optional<api::ClusterTrustBundleStatus>> syncClusterTrustBundle(const store::CertificateRotation& r,
                                                                                const std::string& bundlePem);
  /** The ClusterTrustBundle API the server serves, by discovery; nullptr when none. */
  StatusOr<const rotor::kube::ResourceType*> clusterTrustBundleType();
  /** Removes the ClusterTrustBundle `name` if rotation `source` ("ns/name") made it. */
  Status removeClusterTrustBundle(const std::string& name, const std::string& source);

  /** Drops the cached shards of a rotation that is gone. */
  void forgetWrittenShards(const store::ObjectKey& key);

  rotor::kube::Client& client_;
  const Clock& clock_;
  KubeStoreOptions options_;
  struct SyncedCopies {
    std::string inputs;  // what the sync was asked (uid, selector, names, bundle digest)
    MonotonicTime until;
    api::BundleCopiesStatus result;
  };
  std::mutex copiesMu_;
  std::map<store::ObjectKey, SyncedCopies> syncedCopies_;  // syncs that found every copy current
  struct Copies {
    bool secret = false;  // Secrets (spec.trustBundle.secretName), else ConfigMaps
    std::string name;
    std::set<std::string> namespaces;
    std::string clusterTrustBundle;  // its name, once written
  };
  std::map<store::ObjectKey, Copies> copied_;  // where the last sync of each rotation copied to
  struct ClusterTrustBundleApi {
    const rotor::kube::ResourceType* type = nullptr;  // the version served; nullptr: none found
    MonotonicTime recheckAt;                          // when none: discovery is asked again then
  } clusterTrustBundles_;
  PodSource podSource_;
  std::mutex shardsMu_;
  std::map<std::string, nlohmann::json> writtenShards_;  // "ns/name" -> agent shard as last written
};

}  // namespace rotor::store::kube
