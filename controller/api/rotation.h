#pragma once

// The CertificateRotation resource (rotor.dev/v1alpha1): spec, status and metadata as plain
// values. Codecs (json_codec.h, yaml_codec.h) and validation (validate.h) live beside it.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/key_spec.h"
#include "controller/common/status.h"

namespace rotor::api {

inline constexpr std::string_view kGroup = "rotor.dev";
inline constexpr std::string_view kApiVersion = "rotor.dev/v1alpha1";
inline constexpr std::string_view kKind = "CertificateRotation";

/** Annotation whose every new value asks for a CA rotation (`rotor rotate NAME`). */
inline constexpr std::string_view kRotateAnnotation = "rotor.dev/rotate";
/** Annotation whose every new value asks for a renewal under the same CA (`rotor rotate NAME
 *  --renew`). */
inline constexpr std::string_view kRenewAnnotation = "rotor.dev/renew";
/** Annotation whose every new value asks to re-issue the CA certificate with the same key and
 *  subject, then renew the servers under it (`rotor rotate NAME --renew-ca`): no new adoption
 *  round, since clients that trust the old certificate accept what the renewed one signs. */
inline constexpr std::string_view kRenewCaAnnotation = "rotor.dev/renew-ca";
/** Annotation whose every new value asks to abandon a rotation that has not swapped anything
 *  (`rotor abandon NAME`): the staged CA leaves the bundle and the rotation returns to Ready. */
inline constexpr std::string_view kAbandonAnnotation = "rotor.dev/abandon";
/** Annotation whose every new value approves the swap of a rotation waiting at the adoption gate
 *  (`rotor approve NAME`): the only way through with adoption.mode Manual, an override otherwise. */
inline constexpr std::string_view kApproveAnnotation = "rotor.dev/approve";
/** Annotation naming the snapshot a rollback may restore at once, without waiting for clients to
 *  trust its CA again (`rotor rollback NAME --to SNAPSHOT --skip-adoption`): an emergency, for
 *  when the servers must change now and clients that dropped that CA may fail meanwhile. */
inline constexpr std::string_view kRollbackSkipAdoptionAnnotation = "rotor.dev/rollback-skip-adoption";

enum class Phase {
  kPending,
  kIssuing,
  kReady,
  kStaging,
  kAwaitingAdoption,
  kSwapping,
  kVerifying,
  kDraining,
  kPruning,
  kPaused,
  kBlocked,
  kRollingBack,
  kRolledBack,
  kFailed,
};

/** Every phase, in the order above. */
const std::vector<Phase>& allPhases();
/** "AwaitingAdoption" etc.: the names in status and in the rotor_rotation_phase metric. */
std::string_view phaseName(Phase phase);
StatusOr<Phase> parsePhase(std::string_view name);

/** Namespace and name: how rotations are addressed everywhere. */
struct ObjectKey {
  std::string ns;
  std::string name;

  /** "ns/name". */
  std::string toString() const { return ns + "/" + name; }
  friend auto operator<=>(const ObjectKey&, const ObjectKey&) = default;
};

inline constexpr std::string_view kDefaultNamespace = "default";

struct ObjectMeta {
  std::string name;
  std::string ns = std::string(kDefaultNamespace);
  std::string uid;
  /** Opaque; equality only. Writes carrying a stale one fail with kConflict. */
  std::string resourceVersion;
  /** Bumped by the store whenever the spec changes. */
  int64_t generation = 0;
  std::optional<SystemTime> creationTimestamp;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  ObjectKey key() const { return {ns, name}; }
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

// ---- spec -------------------------------------------------------------------------------------

/** The lead times spec.certificate.renewBefore and spec.ca.rotateBefore default to: this, or a
 *  third of the validity when that is shorter (cert-manager renews at two thirds of a life), so a
 *  short validity given alone is never refused for a lead time nobody wrote. */
inline constexpr Duration kDefaultRenewBefore = std::chrono::hours(24 * 30);
inline constexpr Duration kDefaultRotateBefore = std::chrono::hours(24 * 90);
inline Duration defaultLeadTime(Duration validity, Duration ceiling) { return std::min(ceiling, validity / 3); }

/** Whether a new server certificate gets a new key (Always) or keeps the one served (Never), as
 *  cert-manager's privateKey.rotationPolicy: for appliances that renew from the same CSR. */
enum class KeyRotationPolicy { kAlways, kNever };
std::string_view keyRotationPolicyName(KeyRotationPolicy policy);
StatusOr<KeyRotationPolicy> parseKeyRotationPolicy(std::string_view name);

/** What every server presents. */
struct CertificateSpec {
  std::string commonName;
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;
  Duration validity = std::chrono::hours(24 * 90);
  /** Renew (under the same CA) when the served certificate has less than this left. */
  Duration renewBefore = kDefaultRenewBefore;
  KeySpec privateKey;
  /** spec.certificate.privateKey.rotationPolicy. */
  KeyRotationPolicy keyRotationPolicy = KeyRotationPolicy::kAlways;
  friend bool operator==(const CertificateSpec&, const CertificateSpec&) = default;
};

/** A PKCS#12 file (keystore or truststore) with its password read from a file. Local mode. */
struct Pkcs12Spec {
  std::string file;
  std::string passwordFile;
  friend bool operator==(const Pkcs12Spec&, const Pkcs12Spec&) = default;
};

/** Whether rotor can restart a workload of `kind` through its pod template: Deployment,
 *  StatefulSet or DaemonSet. */
bool isRestartableKind(std::string_view kind);

/** Kubernetes: restart a workload as `kubectl rollout restart` does. */
struct RestartSpec {
  std::string kind;  // Deployment | StatefulSet | DaemonSet
  std::string name;
  friend bool operator==(const RestartSpec&, const RestartSpec&) = default;
};

/** Where the TLS health probe connects, and the SNI name it sends. */
struct HealthCheckSpec {
  std::string address;  // host:port
  std::string serverName;
  friend bool operator==(const HealthCheckSpec&, const HealthCheckSpec&) = default;
};

/** One endpoint presenting the certificate. Kubernetes fields or local fields, by mode. */
struct ServerSpec {
  std::string name;
  // Kubernetes: a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt).
  std::string secretName;
  std::optional<RestartSpec> restart;
  // Local: files; relative paths are relative to the state directory.
  std::string certFile;
  std::string keyFile;
  std::string chainFile;
  std::optional<Pkcs12Spec> pkcs12;
  std::vector<std::string> reloadCommand;
  std::optional<HealthCheckSpec> healthCheck;
  friend bool operator==(const ServerSpec&, const ServerSpec&) = default;
};

struct CaGenerateSpec {
  std::string commonName;
  Duration validity = std::chrono::hours(24 * 365 * 5);
  KeySpec privateKey;
  friend bool operator==(const CaGenerateSpec&, const CaGenerateSpec&) = default;
};

/** What a CA written into spec.ca.secretRef's Secret later does (by cert-manager, say). */
enum class CaSourceChange {
  kIgnore,  // nothing: the Secret is read when a rotation starts
  kRotate,  // a new key starts a CA rotation; the same key, a same-key CA renewal
};
std::string_view caSourceChangeName(CaSourceChange change);
StatusOr<CaSourceChange> parseCaSourceChange(std::string_view name);

struct CaSecretRef {
  std::string name;
  CaSourceChange onChange = CaSourceChange::kIgnore;
  friend bool operator==(const CaSecretRef&, const CaSecretRef&) = default;
};

struct CaFilesSpec {
  std::string certFile;
  std::string keyFile;
  friend bool operator==(const CaFilesSpec&, const CaFilesSpec&) = default;
};

/** The issuing CA: exactly one of generate, secretRef, files. */
struct CaSpec {
  std::optional<CaGenerateSpec> generate;
  std::optional<CaSecretRef> secretRef;
  std::optional<CaFilesSpec> files;
  /** Start a CA rotation this long before the CA expires. */
  Duration rotateBefore = kDefaultRotateBefore;
  /** Serve the new CA cross-signed by the old one, so old-CA-only clients still verify. */
  bool crossSign = false;
  friend bool operator==(const CaSpec&, const CaSpec&) = default;
};

/** One requirement of a Kubernetes label selector. */
struct LabelSelectorRequirement {
  std::string key;
  std::string op;  // In | NotIn | Exists | DoesNotExist
  std::vector<std::string> values;
  friend bool operator==(const LabelSelectorRequirement&, const LabelSelectorRequirement&) = default;
};

/** A Kubernetes label selector; an empty one matches everything. */
struct LabelSelector {
  std::map<std::string, std::string> matchLabels;
  std::vector<LabelSelectorRequirement> matchExpressions;
  friend bool operator==(const LabelSelector&, const LabelSelector&) = default;
};

/** The selector as a list request's labelSelector parameter ("a=b,c in (d,e),!f"). */
std::string labelSelectorQuery(const LabelSelector& selector);

/** Kubernetes: a PKCS#12 truststore of the bundle beside its PEM, in the ConfigMap's binaryData,
 *  for Java clients. The password is no secret (a truststore holds public certificates only, the
 *  password guards its integrity); Java's default is the default. */
struct TruststoreSpec {
  std::string key = "truststore.p12";
  std::string password = "changeit";
  friend bool operator==(const TruststoreSpec&, const TruststoreSpec&) = default;
};

struct TrustBundleSpec;
/** Kubernetes: the bundle's object name (configMapName or secretName). */
const std::string& bundleObjectName(const TrustBundleSpec& spec);
/** Kubernetes: the bundle's object kind, "ConfigMap" or "Secret" (with secretName). */
std::string_view bundleObjectKind(const TrustBundleSpec& spec);

/**
 * Kubernetes: a ClusterTrustBundle (certificates.k8s.io) kept in step with the bundle, which pods
 * in any namespace read through a projected `clusterTrustBundle` volume source, by its name or by
 * its signer name and labels. Cluster-scoped: rotor removes it when the rotation goes.
 */
struct ClusterTrustBundleSpec {
  /** With a signer name, "<signerName with '/' as ':'>:<suffix>", as the API server requires. */
  std::string name;
  /** Empty: a bundle without a signer. Otherwise writing it needs the `attest` verb on the
   *  signer (docs/rbac.md). */
  std::string signerName;
  /** Labels on the object, for pods that select bundles by signer name and label selector. */
  std::map<std::string, std::string> labels;
  friend bool operator==(const ClusterTrustBundleSpec&, const ClusterTrustBundleSpec&) = default;
};

struct TrustBundleSpec {
  std::string configMapName;         // Kubernetes: the bundle in this ConfigMap,
  std::string secretName;            // or in this Secret (Opaque), for clients that mount Secrets only
  std::string key = "ca.crt";        // Kubernetes ConfigMap (or Secret) key
  std::string file;                  // local
  std::optional<Pkcs12Spec> pkcs12;  // optional local truststore beside the PEM file
  /** Kubernetes: the bundle is also written, under the same name and key, into every namespace
   *  this matches (clients live beside their workloads, not beside the rotation). */
  std::optional<LabelSelector> namespaceSelector;
  /** Kubernetes: also a PKCS#12 truststore, in the bundle and in every copy. */
  std::optional<TruststoreSpec> truststore;
  /** Kubernetes: also a ClusterTrustBundle holding the bundle. */
  std::optional<ClusterTrustBundleSpec> clusterTrustBundle;
  friend bool operator==(const TrustBundleSpec&, const TrustBundleSpec&) = default;
};

/** What opens the adoption gate: the agents' measured trust, or a person (`rotor approve`). */
enum class AdoptionMode { kMeasured, kManual };
std::string_view adoptionModeName(AdoptionMode mode);
StatusOr<AdoptionMode> parseAdoptionMode(std::string_view name);

/** What adoption.timeout does when it passes with the gate closed. */
enum class TimeoutAction { kBlock, kProceed };
std::string_view timeoutActionName(TimeoutAction action);
StatusOr<TimeoutAction> parseTimeoutAction(std::string_view name);

/** Kubernetes: the pods that read the bundle are clients too (agentless adoption). */
struct ConsumerPodsSpec {
  /** Also count these pods (in the bundle's namespaces), besides those that reference it. */
  std::optional<LabelSelector> selector;
  /** After staging, restart (as `kubectl rollout restart`) the Deployments, StatefulSets and
   *  DaemonSets whose running consumer pods have not adopted; off: measure only. */
  bool restartWorkloads = false;
  /** Workloads restarted at a time: the next waits until one has rolled out. */
  int maxConcurrentRestarts = 1;
  friend bool operator==(const ConsumerPodsSpec&, const ConsumerPodsSpec&) = default;
};

/** Annotation on a pod naming the SHA-256 ("sha256:<hex>") of the bundle file it loaded, for
 *  clients that reload the bundle without restarting. */
inline constexpr std::string_view kBundleDigestAnnotation = "rotor.dev/bundle-digest";

struct AdoptionSpec {
  /** Measured: open at threshold/minAgents/minStageDuration. Manual: open only on approval, the
   *  measurement shown beside it (clients without agents, a person who checks them). */
  AdoptionMode mode = AdoptionMode::kMeasured;
  /** Percent of active agents that must trust the new CA before the swap. */
  int threshold = 100;
  int minAgents = 0;
  /** Agents not seen for this long are stale: reported, but not counted. */
  Duration staleAfter = std::chrono::hours(24);
  /** The grace period: after this long staged with the gate closed, do what onTimeout says. */
  std::optional<Duration> timeout;
  /** Block (default: never forced) or Proceed (swap anyway, a Warning event counting laggards). */
  TimeoutAction onTimeout = TimeoutAction::kBlock;
  /** The least time the new CA stays staged; the only gate when no agents report. */
  Duration minStageDuration = Duration::zero();
  /** Kubernetes: consumer pods count beside agents (threshold and minAgents count both). */
  std::optional<ConsumerPodsSpec> pods;
  friend bool operator==(const AdoptionSpec&, const AdoptionSpec&) = default;
};

struct MaintenanceWindowSpec {
  std::string schedule;  // 5-field cron
  Duration duration = std::chrono::hours(1);
  std::string timeZone = "UTC";
  friend bool operator==(const MaintenanceWindowSpec&, const MaintenanceWindowSpec&) = default;
};

struct ProbeSpec {
  Duration period = std::chrono::seconds(10);
  int failureThreshold = 3;
  friend bool operator==(const ProbeSpec&, const ProbeSpec&) = default;
};

struct SwapSpec {
  std::optional<MaintenanceWindowSpec> maintenanceWindow;
  ProbeSpec probe;
  /** Health is watched this long after each server's swap (after its restart rolled out). */
  Duration bakeTime = std::chrono::seconds(60);
  /** A restarted workload that has not rolled out this long after the swap fails verification
   *  (and the swap is rolled back), as a Deployment's progressDeadlineSeconds would. */
  Duration rolloutTimeout = std::chrono::minutes(10);
  friend bool operator==(const SwapSpec&, const SwapSpec&) = default;
};

struct PruneSpec {
  /** Drain delay after the swap before the old CA leaves the bundle. */
  Duration after = std::chrono::hours(24);
  /** Also keep the old CA in the bundle until it has expired (clients that cannot be reached
   *  keep working for as long as the old CA could have served them). */
  bool waitForExpiry = false;
  friend bool operator==(const PruneSpec&, const PruneSpec&) = default;
};

/** Local mode: where a snapshot's copies of the served files go. */
struct BackupSpec {
  /** A directory relative to each backed-up file's own directory, with {date} (YYYYMMDD) and
   *  {time} (HHMMSS, UTC) of the snapshot and {dirname} (that directory's name): for example
   *  "certs-{date}-{time}" puts them inside it. Empty: "../{dirname}-{date}-{time}", beside it. */
  std::string directory;
  friend bool operator==(const BackupSpec&, const BackupSpec&) = default;
};

struct RotationSpec {
  CertificateSpec certificate;
  std::vector<ServerSpec> servers;
  CaSpec ca;
  TrustBundleSpec trustBundle;
  AdoptionSpec adoption;
  SwapSpec swap;
  PruneSpec prune;
  BackupSpec backup;
  bool paused = false;
  /** Setting it to a snapshot's name rolls back to that snapshot. */
  std::string rollbackTo;
  friend bool operator==(const RotationSpec&, const RotationSpec&) = default;
};

// ---- status -----------------------------------------------------------------------------------

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionProgressing = "Progressing";
inline constexpr std::string_view kConditionDegraded = "Degraded";
inline constexpr std::string_view kConditionAdoptionComplete = "AdoptionComplete";
inline constexpr std::string_view kConditionRollbackAvailable = "RollbackAvailable";

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  int64_t observedGeneration = 0;
  std::string reason;  // UpperCamelCase
  std::string message;
  std::optional<SystemTime> lastTransitionTime;
  friend bool operator==(const Condition&, const Condition&) = default;
};

/** A certificate as status shows it: never its key. */
struct CertificateRef {
  std::string fingerprint;  // "sha256:<hex>"
  std::optional<SystemTime> notAfter;
  friend bool operator==(const CertificateRef&, const CertificateRef&) = default;
};

struct CaStatus {
  std::optional<CertificateRef> current;
  std::optional<CertificateRef> next;
  std::optional<CertificateRef> previous;
  friend bool operator==(const CaStatus&, const CaStatus&) = default;
};

struct ServerStatus {
  std::string name;
  std::string fingerprint;
  std::optional<SystemTime> notAfter;
  std::string issuerFingerprint;
  /** During a swap: when this server got its new certificate, and when its bake ended well. */
  std::optional<SystemTime> swappedAt;
  /** When its restarted workload finished rolling out (at once for servers without one). */
  std::optional<SystemTime> rolledOutAt;
  std::optional<SystemTime> verifiedAt;
  /** Failed health probes (or reloads) since the swap, and the last failure's reason. */
  int probeFailures = 0;
  std::string lastProbeError;
  std::optional<SystemTime> lastProbeAt;
  friend bool operator==(const ServerStatus&, const ServerStatus&) = default;
};

struct AdoptionStatus {
  int64_t active = 0;
  int64_t adopted = 0;
  int64_t stale = 0;
  double ratio = 0;
  std::vector<std::string> laggards;  // first 20 agent ids
  friend bool operator==(const AdoptionStatus&, const AdoptionStatus&) = default;
};

/** Where the ClusterTrustBundle of spec.trustBundle.clusterTrustBundle stands. */
struct ClusterTrustBundleStatus {
  std::string name;
  /** The API version written through ("certificates.k8s.io/v1beta1"), as discovery found it;
   *  empty while the API server serves none. */
  std::string apiVersion;
  /** It holds the bundle as it is now. */
  bool current = false;
  /** An object of that name rotor did not create: left alone. */
  bool foreign = false;
  /** Why it is not current, when it is not. */
  std::string message;
  friend bool operator==(const ClusterTrustBundleStatus&, const ClusterTrustBundleStatus&) = default;
};

/** Where the bundle's copies stand (spec.trustBundle.namespaceSelector, clusterTrustBundle). */
struct BundleCopiesStatus {
  int64_t wanted = 0;   // namespaces the selector matches, besides the rotation's own and foreign ones
  int64_t current = 0;  // of those, holding the bundle as it is now
  /** Matched namespaces whose object of the bundle's name rotor did not create: left alone. */
  std::vector<std::string> foreign;
  /** spec.trustBundle.clusterTrustBundle's object, while one is asked for or left to remove. */
  std::optional<ClusterTrustBundleStatus> clusterTrustBundle;
  friend bool operator==(const BundleCopiesStatus&, const BundleCopiesStatus&) = default;
};

/** Every copy wanted holds the bundle, and so does the ClusterTrustBundle (unless it is foreign:
 *  left alone, as foreign copies are). */
bool copiesComplete(const BundleCopiesStatus& copies);

/** A Deployment, StatefulSet or DaemonSet (or, for pods without one, the Pod or other owner). */
struct WorkloadRef {
  std::string kind;
  std::string ns;
  std::string name;
  /** "Deployment ns/name". */
  std::string toString() const { return kind + " " + ns + "/" + name; }
  friend auto operator<=>(const WorkloadRef&, const WorkloadRef&) = default;
};

/** One workload's running consumer pods. */
struct WorkloadAdoption {
  WorkloadRef workload;
  int64_t pods = 0;
  int64_t adopted = 0;
  friend bool operator==(const WorkloadAdoption&, const WorkloadAdoption&) = default;
};

/** How a restarted workload's rollout stands, as `kubectl rollout status` would say. */
struct Rollout {
  bool done = true;
  /** What it waits for, such as "Deployment edge-proxy: 1 of 2 updated replicas are available". */
  std::string progress;
};

/** The consumer pods of the CA being adopted (spec.adoption.pods). */
struct PodAdoptionStatus {
  /** The CA this measures ("sha256:<hex>"): a new one starts the measurement again. */
  std::string ca;
  /** When every copy of the bundle first held that CA: a pod whose consuming containers started
   *  after it read it. */
  std::optional<SystemTime> bundleSince;
  int64_t running = 0;
  int64_t adopted = 0;
  /** The workloads with running consumer pods, laggards first, at most kWorkloadsShown. */
  std::vector<WorkloadAdoption> workloads;
  /** Restarted (spec.adoption.pods.restartWorkloads) and still rolling out. */
  std::vector<WorkloadRef> restarting;
  /** Restarted and rolled out: none is restarted twice for the same CA. */
  std::vector<WorkloadRef> restarted;
  friend bool operator==(const PodAdoptionStatus&, const PodAdoptionStatus&) = default;
};
inline constexpr size_t kWorkloadsShown = 20;

struct SnapshotRef {
  std::string name;
  std::optional<SystemTime> takenAt;
  int64_t revision = 0;
  std::string reason;
  friend bool operator==(const SnapshotRef&, const SnapshotRef&) = default;
};

/** One entry of the phase timeline `rotor status` shows. */
struct PhaseEntry {
  Phase phase = Phase::kPending;
  std::optional<SystemTime> enteredAt;
  std::string message;
  friend bool operator==(const PhaseEntry&, const PhaseEntry&) = default;
};

/** What rotor made of the CAs written into spec.ca.secretRef's Secret (onChange: Rotate). */
struct CaSecretStatus {
  /** The fingerprint of the last CA there that started a rotation: it starts none again (after
   *  a rollback, say) until another is written. */
  std::string taken;
  /** One written there during a rotation, which waits for that rotation to end. */
  std::string pending;
  friend bool operator==(const CaSecretStatus&, const CaSecretStatus&) = default;
};

/** Request values already acted upon, so that each new value acts exactly once. */
struct HandledRequests {
  std::string rotate;      // last rotor.dev/rotate value
  std::string renew;       // last rotor.dev/renew value
  std::string rollbackTo;  // last spec.rollbackTo
  std::string abandon;     // last rotor.dev/abandon value
  std::string approve;     // last rotor.dev/approve value
  std::string renewCa;     // last rotor.dev/renew-ca value
  friend bool operator==(const HandledRequests&, const HandledRequests&) = default;
};

/** The most recent phases kept in status.timeline. */
inline constexpr size_t kTimelineLength = 24;

struct RotationStatus {
  Phase phase = Phase::kPending;
  int64_t revision = 0;
  int64_t observedGeneration = 0;
  std::vector<Condition> conditions;
  CaStatus ca;
  std::vector<ServerStatus> servers;
  AdoptionStatus adoption;
  std::optional<BundleCopiesStatus> bundleCopies;
  std::optional<PodAdoptionStatus> pods;
  std::vector<SnapshotRef> snapshots;
  std::optional<SystemTime> phaseStartedAt;
  std::string message;
  /** Attempt at the revision in flight: 1, and one more after each rollback. Part of snapshot
   *  names, so that a retry never mistakes an earlier attempt's snapshot for its own. */
  int64_t attempt = 0;
  /** What started the rotation in flight (a trigger name, see reconcilers/triggers.h). */
  std::string trigger;
  /** While RollingBack/RolledBack: the snapshot being or last restored. */
  std::string rollbackSnapshot;
  /** While RollingBack: the fingerprint of the CA the restored certificates chain to, when the
   *  bundle no longer held it (it was pruned). It is staged again, and the servers are restored
   *  only once clients trust it (the adoption gate); empty when it was trusted all along. */
  std::string rollbackRestagedCa;
  /** While Paused or Blocked: the phase to return to. */
  std::optional<Phase> resumePhase;
  HandledRequests handled;
  /** SHA-256 of the spec.ca source (generate/files/secretRef) last acted upon. */
  std::string caSourceHash;
  /** spec.ca.secretRef with onChange: Rotate. */
  CaSecretStatus caSecret;
  std::vector<PhaseEntry> timeline;
  friend bool operator==(const RotationStatus&, const RotationStatus&) = default;
};

struct CertificateRotation {
  ObjectMeta metadata;
  RotationSpec spec;
  RotationStatus status;

  ObjectKey key() const { return metadata.key(); }
  friend bool operator==(const CertificateRotation&, const CertificateRotation&) = default;
};

/** The condition of `type`, or null. */
const Condition* findCondition(const RotationStatus& status, std::string_view type);

/** The share of active clients that adopted the new CA as "66%" for 2 of 3, rounded down; empty while no client is
 * active. */
std::string adoptionPercent(const AdoptionStatus& adoption);

/** The agents of status.adoption with the running consumer pods of status.pods added: what the
 *  adoption gate counts, and so what the status summary, kubectl's column and the metric show. */
AdoptionStatus clientTally(const RotationStatus& status);

/** adopted/active, 1 when none is active: AdoptionStatus::ratio. */
double adoptionRatio(int64_t adopted, int64_t active);

/** The earliest expiry among the current CA and the servers' certificates. */
std::optional<SystemTime> nextExpiry(const RotationStatus& status);

}  // namespace rotor::api
