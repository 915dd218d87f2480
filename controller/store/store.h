#pragma once

// The Store: the only door the reconcilers have to the world's state. Domain-level on purpose:
// rotations, served material, trust bundles, CA material, snapshots and agent records, never
// Secrets or files. `local` and `kube` implement it; tests/contract holds the suite both pass.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/store/agent_tally.h"

namespace rotor::store {

using api::CertificateRotation;
using api::ObjectKey;
using api::Rollout;

/** Opaque version of a stored value for optimistic concurrency: compare for equality only. An
 *  empty Version means "absent": writing with it fails with kConflict if the value exists. */
using Version = std::string;

template <typename T>
struct Versioned {
  T value;
  Version version;
};

/** What one server presents. Secret: keyPem never leaves the process in logs or status. */
struct ServedMaterial {
  std::string certificateChainPem;  // leaf first, then any intermediates (e.g. a cross-signed CA)
  std::string keyPem;
  std::string caPem;  // the issuing CA, for consumers that want it beside the chain (ca.crt)
  friend bool operator==(const ServedMaterial&, const ServedMaterial&) = default;
};

/** A CA certificate with its key. Secret. */
struct AuthorityMaterial {
  std::string certificatePem;
  std::string keyPem;
  friend bool operator==(const AuthorityMaterial&, const AuthorityMaterial&) = default;
};

/** The CAs a rotation holds: the one issuing now, the one being introduced, the one retired. */
struct Authorities {
  std::optional<AuthorityMaterial> current;
  std::optional<AuthorityMaterial> next;
  std::optional<AuthorityMaterial> previous;
  friend bool operator==(const Authorities&, const Authorities&) = default;
};

/** Everything a rollback needs to put back: each server's material and the bundle. */
struct Snapshot {
  std::string name;  // DNS-1123 subdomain; deterministic so that a retried write meets itself
  SystemTime takenAt;
  int64_t revision = 0;
  std::string reason;
  std::map<std::string, ServedMaterial> servers;  // by server name
  std::string bundlePem;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};


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
};

/** An agent's latest check-in. */
struct AgentRecord {
  std::string id;
  SystemTime lastSeen;
  std::vector<std::string> trusted;  // "sha256:<hex>" fingerprints
  std::string version;
  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

/** Agent ids: 1 to 128 of [A-Za-z0-9._:-], so that they are safe in paths, logs and files. */
inline constexpr size_t kMaxAgentIdLength = 128;
/** kInvalidArgument, saying what an id may hold, unless `id` is one. */
Status validateAgentId(std::string_view id);
/** True for exactly 64 lower-case hex digits: a SHA-256 fingerprint without its "sha256:". */
bool isSha256Hex(std::string_view hex);
/** kInvalidArgument unless the id is valid, the version (up to 64 printable characters) has no
 *  whitespace and every fingerprint reads "sha256:<64 lower-case hex>". Every Store checks this. */
Status validateAgentRecord(const AgentRecord& agent);

/** listRotations() across every namespace. */
inline const std::string kAllNamespaces;

class Store {
public:
  virtual ~Store() = default;

  // ---- rotations ----
  /** The rotations in namespace `ns` (kAllNamespaces: every namespace), ordered by namespace then
   *  name. A namespaced list needs only namespaced rights in a cluster. */
  virtual StatusOr<std::vector<CertificateRotation>> listRotations(const std::string& ns) = 0;
  /** The keys of all rotations, in the same order; a resync needs no more. By default from
   *  listRotations(); a Store that can list names without reading the objects overrides it. */
  virtual StatusOr<std::vector<ObjectKey>> listRotationKeys();
  /** kNotFound when absent. */
  virtual StatusOr<CertificateRotation> getRotation(const ObjectKey& key) = 0;
  /**
   * Creates the rotation (generation 1, new uid, empty status) or updates spec, labels and
   * annotations of the existing one (labels and annotations merge; the manifest's win). The
   * generation grows only when the spec changes. Returns what is stored now.
   */
  virtual StatusOr<CertificateRotation> applyRotation(const CertificateRotation& desired) = 0;
  /**
   * Writes spec, labels and annotations (not status). kConflict when
   * rotation.metadata.resourceVersion is stale; on success it holds the new version.
   */
  virtual Status updateRotation(CertificateRotation& rotation) = 0;
  /** Writes status only, with the same version rule as updateRotation. */
  virtual Status updateRotationStatus(CertificateRotation& rotation) = 0;
  /** Deletes the rotation, its CA material, snapshot records and agent records; kNotFound when
   *  absent. Served files, bundles and backup copies stay where they are. */
  virtual Status deleteRotation(const ObjectKey& key) = 0;

  // ---- CA material ----
  virtual StatusOr<Versioned<Authorities>> readAuthorities(const CertificateRotation& r) = 0;
  /** kConflict unless `expected` is the version read last (empty: must not exist yet). */
  virtual Status writeAuthorities(const CertificateRotation& r, const Authorities& authorities,
                                  const Version& expected) = 0;

  /** The operator's own CA named by spec.ca.files (local) or spec.ca.secretRef (Kubernetes), as
   *  stored there now. kNotFound when it is absent; kFailedPrecondition when the spec names no
   *  custom CA this store can read. */
  virtual StatusOr<AuthorityMaterial> readCustomAuthority(const CertificateRotation& r) = 0;

  // ---- served material, per server (spec.servers[].name) ----
  /** The material a server presents now, or nullopt when there is none yet. */
  virtual StatusOr<Versioned<std::optional<ServedMaterial>>> readServed(const CertificateRotation& r,
                                                                        std::string_view server) = 0;
  /** Replaces it as one unit: a crash never leaves a certificate beside the wrong key. */
  virtual Status writeServed(const CertificateRotation& r, std::string_view server, const ServedMaterial& material,
                             const Version& expected) = 0;

  // ---- trust bundle ----
  virtual StatusOr<Versioned<std::optional<std::string>>> readBundle(const CertificateRotation& r) = 0;
  virtual Status writeBundle(const CertificateRotation& r, const std::string& bundlePem, const Version& expected) = 0;
  /**
   * Kubernetes: makes every namespace spec.trustBundle.namespaceSelector matches (besides the
   * rotation's own) hold `bundlePem` in a copy of the bundle, and removes the copies it made
   * where the selector no longer matches (or is gone). An object of the bundle's name that rotor
   * did not create is reported as foreign and left alone. The bundle's other forms (Kubernetes:
   * the PKCS#12 truststore of spec.trustBundle.truststore) are made current here too, in the
   * bundle and in every copy. This default: a store without namespaces keeps no copies.
   */
  virtual StatusOr<api::BundleCopiesStatus> syncBundleCopies(const CertificateRotation& r,
                                                             const std::string& bundlePem);
  /** The rotation `key` is gone: removes what it left that owner references cannot (Kubernetes:
   *  the bundle's copies this process made in other namespaces). This default: nothing. */
  virtual Status rotationGone(const ObjectKey& key);
  /** `rotations` are every rotation there is in this controller's scope: removes what rotor left
   *  for any other (Kubernetes: copies of trust bundles whose rotation was deleted while no
   *  controller ran). Returns how many objects it removed. This default: none. */
  virtual StatusOr<size_t> collectOrphans(const std::vector<ObjectKey>& rotations);

  // ---- snapshots ----
  /** Idempotent by name: writing the same snapshot again succeeds; a different one under an
   *  existing name is kAlreadyExists. */
  virtual Status putSnapshot(const CertificateRotation& r, const Snapshot& snapshot) = 0;
  /** kNotFound when absent; kFailedPrecondition when its stored copy was damaged. */
  virtual StatusOr<Snapshot> getSnapshot(const CertificateRotation& r, std::string_view name) = 0;
  /** The snapshots' names, oldest first. */
  virtual StatusOr<std::vector<std::string>> listSnapshots(const CertificateRotation& r) = 0;

  // ---- reload ----
  /** Makes the server pick up newly written material (reload command / workload restart). */
  virtual Status reload(const CertificateRotation& r, std::string_view server) = 0;
  /** After reload(): whether the server's restarted workload has rolled out. A server without
   *  one (a reload command, or no restart) is rolled out at once: this default. */
  virtual StatusOr<Rollout> rolloutStatus(const CertificateRotation& r, std::string_view server);

  // ---- consumer pods (spec.adoption.pods) ----
  /** The running pods that read the bundle in the rotation's and its copies' namespaces (and
   *  those spec.adoption.pods.selector adds), judged by `query`. This default: kFailedPrecondition
   *  (a store without pods). */
  virtual StatusOr<PodTally> tallyConsumerPods(const CertificateRotation& r, const PodQuery& query);
  /** Restarts a workload as `kubectl rollout restart` does. This default: kFailedPrecondition. */
  virtual Status restartWorkload(const CertificateRotation& r, const api::WorkloadRef& workload);
  /** How that restart's rollout stands. This default: kFailedPrecondition. */
  virtual StatusOr<Rollout> workloadRollout(const CertificateRotation& r, const api::WorkloadRef& workload);

  // ---- agents ----
  /** Calls `visit` once per stored agent record, in no particular order. Streaming, so that a
   *  million records never sit in memory twice. */
  virtual Status visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) = 0;
  /** The adoption tally of the rotation's agents (agent_tally.h). This default counts what
   *  visitAgents streams; a store that keeps records in a compact form counts them there. */
  virtual StatusOr<api::AdoptionStatus> tallyAgents(const ObjectKey& key, const TallyQuery& query);
  /** Inserts or replaces each record (by id) as one batch; a crash keeps the batch or loses it
   *  whole. kNotFound when the rotation does not exist. */
  virtual Status putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) = 0;
  /** How to split a large batch: records whose ids share agentGroupOf(id, agentGroups()) touch
   *  as little stored data as possible when written together (one shard in a cluster). */
  virtual uint32_t agentGroups() const { return 16; }

  // ---- agent tokens ----
  /** The SHA-256 digests (64 hex digits) of the bearer tokens agents of this rotation may use.
   *  Only digests are stored: a stolen state directory yields no usable token. */
  virtual StatusOr<std::vector<std::string>> readAgentTokenDigests(const ObjectKey& key) = 0;
  /** Adds one digest. kNotFound when the rotation does not exist. */
  virtual Status addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) = 0;
};

using StorePtr = std::unique_ptr<Store>;

/** An agent id's group among `groups` (FNV-1a of the id): stable across processes and releases,
 *  since the Kubernetes store keeps each agent in the shard of its group. */
uint32_t agentGroupOf(std::string_view id, uint32_t groups);

/** The ServerSpec named `server`, or null. */
const api::ServerSpec* findServer(const CertificateRotation& r, std::string_view server);

/** Merges desired spec/labels/annotations into `stored` as applyRotation describes; returns
 *  whether the spec changed (so the generation must grow). Shared by every implementation. */
bool mergeApplied(CertificateRotation& stored, const CertificateRotation& desired);

}  // namespace rotor::store
