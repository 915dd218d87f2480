#include "controller/store/kube/kube_store.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "controller/api/json_codec.h"
#include "controller/common/strings.h"
#include "controller/store/kube/object_fields.h"

namespace rotor::store::kube {

using nlohmann::json;
using rotor::kube::kConfigMaps;
using rotor::kube::kSecrets;

// ---- agents ----------------------------------------------------------------------------------

Status KubeStore::visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  const std::string uid = raw->value("/metadata/uid"_json_pointer, std::string());
  auto shards = client_.list(kConfigMaps, key.ns, {.labelSelector = selectorFor(key.name, "agents")});
  if (!shards.ok()) return shards.status();
  for (const json& shard : shards->items) {
    if (!ownedBy(shard, uid)) continue;
    ASSIGN_OR_RETURN(std::vector<AgentRecord> records, shardAgents(shard));
    for (const AgentRecord& record : records) visit(record);
  }
  return Status();
}

Status KubeStore::putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) {
  for (const AgentRecord& a : agents) {
    if (Status s = store::validateAgentRecord(a); !s.ok()) return s;
  }
  auto rotation = getRotation(key);
  if (!rotation.ok()) {
    if (rotation.status().code() == Code::kNotFound) forgetWrittenShards(key);  // its last put
    return rotation.status();
  }
  std::map<int, std::vector<const AgentRecord*>> byShard;
  for (const AgentRecord& a : agents) byShard[shardOf(a.id, options_.agentShards)].push_back(&a);
  for (const auto& entry : byShard) {
    const std::vector<const AgentRecord*>& records = entry.second;  // a name the lambda may capture
    json fresh = newObject(kConfigMaps, *rotation, agentShardName(key.name, entry.first), "agents", true);
    const auto merge = [&](json& configMap) -> Status {
      std::map<std::string, AgentRecord> merged;
      if (ownedBy(configMap, rotation->metadata.uid)) {
        ASSIGN_OR_RETURN(std::vector<AgentRecord> stored, shardAgents(configMap));
        for (AgentRecord& a : stored) merged.insert_or_assign(a.id, std::move(a));
      }
      for (const AgentRecord* a : records) merged.insert_or_assign(a->id, *a);
      std::vector<AgentRecord> all;
      all.reserve(merged.size());
      for (auto& [id, a] : merged) all.push_back(std::move(a));
      return setShardAgents(configMap, std::move(all)).withContext(key.toString());
    };
    // The shard as this process last wrote it saves reading it again: only the leader writes
    // shards, and a write from anyone else since makes this one a conflict, then a fresh read.
    const std::string shardKey = key.ns + "/" + fresh["metadata"]["name"].get<std::string>();
    json known;
    {
      std::lock_guard lock(shardsMu_);
      if (auto it = writtenShards_.find(shardKey); it != writtenShards_.end()) {
        known = std::move(it->second);
        writtenShards_.erase(it);
      }
    }
    Status s = modify(kConfigMaps, key.ns, fresh, merge, &known);
    if (s.ok()) {
      std::lock_guard lock(shardsMu_);
      writtenShards_.insert_or_assign(shardKey, std::move(known));
    }
    if (!s.ok()) return s;
  }
  return Status();
}

void KubeStore::forgetWrittenShards(const ObjectKey& key) {
  std::lock_guard lock(shardsMu_);
  for (int shard = 0; shard < options_.agentShards; ++shard) {
    writtenShards_.erase(key.ns + "/" + agentShardName(key.name, shard));
  }
}

// ---- agent tokens ----------------------------------------------------------------------------

StatusOr<std::vector<std::string>> KubeStore::readAgentTokenDigests(const ObjectKey& key) {
  auto raw = getRaw(key);
  if (!raw.ok()) return raw.status();
  auto secret = client_.get(kSecrets, key.ns, tokensSecretName(key.name));
  if (isNotFound(secret)) return std::vector<std::string>{};
  if (!secret.ok()) return secret.status();
  if (!ownedBy(*secret, raw->value("/metadata/uid"_json_pointer, std::string()))) return std::vector<std::string>{};
  std::vector<std::string> out;
  for (const std::string& line : split(secretValue(*secret, "digests").value_or(""), '\n')) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

Status KubeStore::addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) {
  if (!store::isSha256Hex(digestHex)) return invalidArgument("a token digest is 64 lower-case hex digits");
  auto rotation = getRotation(key);
  if (!rotation.ok()) return rotation.status();
  json fresh = newObject(kSecrets, *rotation, tokensSecretName(key.name), "agent-tokens", true);
  fresh["type"] = "Opaque";
  return modify(kSecrets, key.ns, fresh, [&](json& secret) {
    std::string digests = ownedBy(secret, rotation->metadata.uid) ? secretValue(secret, "digests").value_or("") : "";
    if (digests.find(digestHex) == std::string::npos) digests += digestHex + "\n";
    setSecretValue(secret, "digests", digests);
    return Status();
  });
}

}  // namespace rotor::store::kube
