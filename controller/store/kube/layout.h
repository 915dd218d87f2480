#pragma once

// Where the Kubernetes store keeps each thing (the table in kube_store.h and docs/kubernetes.md):
// object names, the labels rotor selects its objects by, how agent records are spread over shard
// ConfigMaps and encoded one per line, and how a snapshot is encoded in its Secret. Pure
// functions: the names and encodings are part of rotor's stored format, tested on their own.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::store::kube {

/** Label carried by every object rotor creates for a rotation: its name. */
inline constexpr std::string_view kRotationLabel = "rotor.dev/rotation";
/** Label telling what an object is to rotor: "ca", "snapshot", "agents", "agent-tokens". */
inline constexpr std::string_view kPartLabel = "rotor.dev/part";
/** The rotation ("<namespace>/<name>") whose bundle a copy in another namespace is: objects of the
 *  bundle's name without it are not rotor's, and are never written or deleted. */
inline constexpr std::string_view kBundleSourceAnnotation = "rotor.dev/bundle-source";
/** On a bundle (or copy) holding a PKCS#12 truststore rotor wrote: "<key> sha256:<hex>", the
 *  digest of the password and the PEM bundle it was made from, so a stale one is known without
 *  decoding it. */
inline constexpr std::string_view kTruststoreAnnotation = "rotor.dev/truststore";
/** kPartLabel of a bundle's copy. */
inline constexpr std::string_view kBundleCopyPart = "bundle-copy";
/** kPartLabel of spec.trustBundle.clusterTrustBundle's object. */
inline constexpr std::string_view kClusterTrustBundlePart = "cluster-trust-bundle";
/** The pod-template annotation whose new value restarts a workload (as kubectl rollout restart). */
inline constexpr std::string_view kRestartedAtAnnotation = "rotor.dev/restartedAt";

// ---- names ----

/** A label value (at most 63 characters): the name itself, or a digest of a longer one. */
std::string labelValue(std::string_view name);
/** Selects the objects of one part ("agents", "snapshot", ...) of one rotation. */
std::string selectorFor(const std::string& rotation, std::string_view part);
std::string caSecretName(const CertificateRotation& r);
std::string tokensSecretName(const std::string& rotation);
/** "<rotation>-snap-r1-swap" for snapshot "<rotation>-r1-swap": the rotation's name once. */
std::string snapshotSecretName(const CertificateRotation& r, std::string_view snapshot);
/** Where releases before 0.2 kept a snapshot: "<rotation>-snap-<snapshot>", the name twice. */
std::string legacySnapshotSecretName(const CertificateRotation& r, std::string_view snapshot);
std::string agentShardName(const std::string& rotation, int shard);

// ---- agent shards ----
// Format 2 (written now): the compact encoding of agent_shard.h in binaryData "agents.v2".
// Format 1 (read, and replaced on the shard's next write): one text line per agent in data "records".

/** A shard is refused past this many (compressed) bytes, below the 1 MiB the API server allows a
 *  ConfigMap. */
inline constexpr size_t kMaxShardBytes = 900 * 1024;
/** A format-1 line. */
std::string agentLine(const AgentRecord& a);
/** nullopt for a line that is not a valid record. */
std::optional<AgentRecord> parseAgentLine(std::string_view line);
/** A shard's records in either format (a damaged format-1 line is dropped). kFailedPrecondition,
 *  naming the ConfigMap, for a damaged format-2 shard. */
StatusOr<std::vector<AgentRecord>> shardAgents(const nlohmann::json& configMap);
/** Makes `configMap` hold exactly `records`, in format 2. kResourceExhausted past kMaxShardBytes. */
Status setShardAgents(nlohmann::json& configMap, std::vector<AgentRecord> records);
/** The shard an agent's record lives in: its group (store.h), stable across processes and versions. */
inline int shardOf(std::string_view id, int shards) {
  return static_cast<int>(agentGroupOf(id, static_cast<uint32_t>(shards)));
}

// ---- snapshots: one JSON document in an immutable Secret ----

nlohmann::json snapshotToJson(const Snapshot& s);
StatusOr<Snapshot> snapshotFromJson(const std::string& text);

}  // namespace rotor::store::kube
