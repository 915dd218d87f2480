#pragma once

// The compact encoding of one agent shard (the ConfigMap key "agents.v2" in binaryData). A
// fleet shares a handful of trust sets and versions and its ids share prefixes, so a record is
// mostly its id: records sorted by id, each id stored as the length it shares with the previous
// one plus the rest, its trust set and version as indexes into tables at the front, its last-seen
// time as seconds after the shard's earliest; the whole deflated (zlib). About 20 bytes an agent
// for UUID ids, against about 150 in the text lines of format 1.

#include <string>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::store::kube {

/** The binaryData key of an encoded shard. */
inline constexpr std::string_view kAgentShardKey = "agents.v2";

/** Encodes `records` (valid ones: validateAgentRecord), in any order; ids must be distinct. */
std::string encodeAgentShard(std::vector<AgentRecord> records);
/** Every record of an encoded shard. kFailedPrecondition when the bytes are not one (damaged,
 *  truncated, or not this format): a shard is read whole or not at all. */
StatusOr<std::vector<AgentRecord>> decodeAgentShard(std::string_view bytes);

}  // namespace rotor::store::kube
