#include "controller/store/kube/layout.h"

#include <charconv>

#include "controller/common/strings.h"
#include "controller/pki/base64.h"
#include "controller/pki/digest.h"
#include "controller/store/kube/agent_shard.h"

namespace rotor::store::kube {

using nlohmann::json;

/** A label value (at most 63 characters): the name itself, or a digest of a longer one. */
std::string labelValue(std::string_view name) {
  return name.size() <= 63 ? std::string(name) : "h-" + pki::sha256Hex(name).substr(0, 40);
}

std::string selectorFor(const std::string& rotation, std::string_view part) {
  return std::string(kRotationLabel) + "=" + labelValue(rotation) + "," + std::string(kPartLabel) + "=" +
         std::string(part);
}

std::string caSecretName(const CertificateRotation& r) { return r.metadata.name + "-rotor-ca"; }
std::string tokensSecretName(const std::string& rotation) { return rotation + "-rotor-agent-tokens"; }
/** "<rotation>-snap-r1-swap" for snapshot "<rotation>-r1-swap": the rotation's name once. */
std::string snapshotSecretName(const CertificateRotation& r, std::string_view snapshot) {
  const std::string prefix = r.metadata.name + "-";
  if (snapshot.starts_with(prefix)) snapshot.remove_prefix(prefix.size());
  return prefix + "snap-" + std::string(snapshot);
}

/** Where releases before 0.2 kept a snapshot: "<rotation>-snap-<snapshot>", the name twice. */
std::string legacySnapshotSecretName(const CertificateRotation& r, std::string_view snapshot) {
  return r.metadata.name + "-snap-" + std::string(snapshot);
}
std::string agentShardName(const std::string& rotation, int shard) {
  return rotation + "-agents-" + std::to_string(shard);
}

// ---- agent shards: one line per agent, as the local journal writes them ----

std::string agentLine(const AgentRecord& a) {
  std::string line =
      a.id + " " +
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(a.lastSeen.time_since_epoch()).count()) + " " +
      (a.version.empty() ? "-" : a.version) + " ";
  if (a.trusted.empty()) return line + "-";
  for (size_t i = 0; i < a.trusted.size(); ++i) line += (i ? "," : "") + a.trusted[i].substr(7);  // without "sha256:"
  return line;
}

std::optional<AgentRecord> parseAgentLine(std::string_view line) {
  const std::vector<std::string> f = split(line, ' ');
  if (f.size() != 4) return std::nullopt;
  AgentRecord a;
  a.id = f[0];
  int64_t seconds = 0;
  if (std::from_chars(f[1].data(), f[1].data() + f[1].size(), seconds).ec != std::errc()) return std::nullopt;
  a.lastSeen = SystemTime(std::chrono::seconds(seconds));
  a.version = f[2] == "-" ? "" : f[2];
  if (f[3] != "-") {
    for (const std::string& hex : split(f[3], ',')) a.trusted.push_back("sha256:" + hex);
  }
  if (!store::validateAgentRecord(a).ok()) return std::nullopt;
  return a;
}

StatusOr<std::vector<AgentRecord>> shardAgents(const json& configMap) {
  if (const json* binary = configMap.contains("binaryData") ? &configMap["binaryData"] : nullptr;
      binary != nullptr && binary->contains(kAgentShardKey)) {
    const std::string name = configMap.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
                             configMap.value("/metadata/name"_json_pointer, std::string());
    auto bytes = pki::base64Decode((*binary)[std::string(kAgentShardKey)].get<std::string>());
    auto records = bytes.ok() ? decodeAgentShard(*bytes) : bytes.status();
    if (!records.ok()) {
      return failedPrecondition("agent records in ConfigMap " + name +
                                " are damaged; delete it and its agents register again at their next check-in");
    }
    return records;
  }
  std::vector<AgentRecord> out;
  for (const std::string& line : split(configMap.value("/data/records"_json_pointer, std::string()), '\n')) {
    if (auto agent = parseAgentLine(line)) out.push_back(std::move(*agent));
  }
  return out;
}

Status setShardAgents(json& configMap, std::vector<AgentRecord> records) {
  const std::string bytes = encodeAgentShard(std::move(records));
  if (bytes.size() > kMaxShardBytes) {
    return resourceExhausted("agent records outgrew their shard (" + std::to_string(bytes.size()) +
                             " bytes compressed); raise the agent shard count");
  }
  configMap.erase("data");
  configMap["binaryData"] = {{std::string(kAgentShardKey), pki::base64Encode(bytes)}};
  return okStatus();
}

// ---- snapshots: one JSON document in an immutable Secret ----

json snapshotToJson(const store::Snapshot& s) {
  json servers = json::object();
  for (const auto& [name, m] : s.servers)
    servers[name] = {{"chain", m.certificateChainPem}, {"key", m.keyPem}, {"ca", m.caPem}};
  return {{"name", s.name},         {"takenAt", formatRfc3339(s.takenAt)},
          {"revision", s.revision}, {"reason", s.reason},
          {"bundle", s.bundlePem},  {"servers", servers}};
}

StatusOr<store::Snapshot> snapshotFromJson(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  store::Snapshot s;
  try {
    if (!j.is_object() || !parseRfc3339(j.at("takenAt").get<std::string>(), s.takenAt)) throw std::runtime_error("");
    s.name = j.at("name").get<std::string>();
    s.revision = j.at("revision").get<int64_t>();
    s.reason = j.at("reason").get<std::string>();
    s.bundlePem = j.at("bundle").get<std::string>();
    for (const auto& [name, m] : j.at("servers").items()) {
      s.servers[name] = {m.at("chain").get<std::string>(), m.at("key").get<std::string>(),
                         m.at("ca").get<std::string>()};
    }
  } catch (const std::exception&) {
    return failedPrecondition("the snapshot's stored copy is damaged");
  }
  return s;
}

}  // namespace rotor::store::kube
