#pragma once

// The Store's role for agents: their latest check-ins (records) and the digests of the bearer
// tokens they may use.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/store/agent_tally.h"

namespace rotor::store {

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

/** An agent id's group among `groups` (FNV-1a of the id): stable across processes and releases,
 *  since the Kubernetes store keeps each agent in the shard of its group. */
uint32_t agentGroupOf(std::string_view id, uint32_t groups);

class AgentStore {
public:
  virtual ~AgentStore() = default;

  /** Calls `visit` once per stored agent record, in no particular order. Streaming, so that a
   *  million records never sit in memory twice. */
  virtual Status visitAgents(const api::ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) = 0;
  /** The adoption tally of the rotation's agents (agent_tally.h). This default counts what
   *  visitAgents streams; a store that keeps records in a compact form counts them there. */
  virtual StatusOr<api::AdoptionStatus> tallyAgents(const api::ObjectKey& key, const TallyQuery& query);
  /** Inserts or replaces each record (by id) as one batch; a crash keeps the batch or loses it
   *  whole. kNotFound when the rotation does not exist. */
  virtual Status putAgents(const api::ObjectKey& key, const std::vector<AgentRecord>& agents) = 0;
  /** How to split a large batch: records whose ids share agentGroupOf(id, agentGroups()) touch
   *  as little stored data as possible when written together (one shard in a cluster). */
  virtual uint32_t agentGroups() const { return 16; }
};

class AgentTokenStore {
public:
  virtual ~AgentTokenStore() = default;

  /** The SHA-256 digests (64 hex digits) of the bearer tokens agents of this rotation may use.
   *  Only digests are stored: a stolen state directory yields no usable token. */
  virtual StatusOr<std::vector<std::string>> readAgentTokenDigests(const api::ObjectKey& key) = 0;
  /** Adds one digest. kNotFound when the rotation does not exist. */
  virtual Status addAgentTokenDigest(const api::ObjectKey& key, const std::string& digestHex) = 0;
};

}  // namespace rotor::store
