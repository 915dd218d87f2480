#pragma once

// The Store's role for consumer pods (spec.adoption.pods): counting the running pods that read
// the bundle, and restarting the workloads that lag. Only a cluster has them; the defaults say so.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"

namespace rotor::store {

/** What a consumer pod is judged against (spec.adoption.pods). */
struct PodQuery {
  /** "sha256:<hex>" of the bundle as it is now, when it holds the CA being adopted; a pod
   *  annotated with it has adopted. Empty: no annotation counts. */
  std::string bundleDigest;
  /** When every copy of the bundle first held the CA: consuming containers started at or after
   *  it read it. nullopt: not yet, so no pod adopted by its start. */
  std::optional<SystemTime> bundleSince;
};

/** The running consumer pods, counted. */
struct PodTally {
  int64_t running = 0;
  int64_t adopted = 0;
  /** Every workload with running consumer pods: the laggards first (most pods still to adopt),
   *  then by kind, namespace and name. */
  std::vector<api::WorkloadAdoption> workloads;
  /** The workloads whose every running consumer pod carries a rotor.dev/bundle-digest annotation:
   *  they reload the bundle and say so (a reporter sidecar), so they adopt without a restart. */
  std::set<api::WorkloadRef> reporting;
  /** The workloads with a pod that reads a signer-scoped ClusterTrustBundle by its name: the
   *  kubelet (v1.32 and before) keeps what it read that way for kKubeletTrustBundleCache and does
   *  not drop it when the bundle changes, so such a pod counts only when it started that long
   *  after bundleSince, and is restarted no earlier. */
  std::set<api::WorkloadRef> cachedReaders;
};

/** How long the kubelet keeps a ClusterTrustBundle's trust anchors it looked up (its cache TTL). */
inline constexpr Duration kKubeletTrustBundleCache = std::chrono::minutes(5);

class ConsumerPodStore {
public:
  virtual ~ConsumerPodStore() = default;

  /** The running pods that read the bundle in the rotation's and its copies' namespaces (and
   *  those spec.adoption.pods.selector adds), judged by `query`. This default: kFailedPrecondition
   *  (a store without pods). */
  virtual StatusOr<PodTally> tallyConsumerPods(const api::CertificateRotation& r, const PodQuery& query);
  /** Restarts a workload as `kubectl rollout restart` does. This default: kFailedPrecondition. */
  virtual Status restartWorkload(const api::CertificateRotation& r, const api::WorkloadRef& workload);
  /** How that restart's rollout stands. This default: kFailedPrecondition. */
  virtual StatusOr<api::Rollout> workloadRollout(const api::CertificateRotation& r, const api::WorkloadRef& workload);
};

}  // namespace rotor::store
