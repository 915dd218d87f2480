// The Kubernetes store's stored format: object names, agent shards (both formats) and snapshot documents.
// A change here changes what an upgraded controller reads, so the values are pinned.
#include "controller/store/kube/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/store/kube/agent_shard.h"
#include "tests/support/status_matchers.h"

namespace rotor::store::kube {
namespace {

using rotor::testing::IsOkAndHolds;
using rotor::testing::StatusIs;

CertificateRotation rotationNamed(const std::string& name) {
  CertificateRotation r;
  r.metadata.name = name;
  return r;
}

TEST(KubeLayoutTest, NamesAreTheDocumentedOnes) {
  const CertificateRotation r = rotationNamed("edge");
  EXPECT_EQ(caSecretName(r), "edge-rotor-ca");
  EXPECT_EQ(tokensSecretName("edge"), "edge-rotor-agent-tokens");
  EXPECT_EQ(agentShardName("edge", 7), "edge-agents-7");
  EXPECT_EQ(snapshotSecretName(r, "edge-r1-swap"), "edge-snap-r1-swap");
  EXPECT_EQ(legacySnapshotSecretName(r, "edge-r1-swap"), "edge-snap-edge-r1-swap");
  EXPECT_EQ(selectorFor("edge", "agents"), "rotor.dev/rotation=edge,rotor.dev/part=agents");
}

TEST(KubeLayoutTest, LongNamesBecomeLabelValuesThatFit) {
  const std::string longName(200, 'a');
  const std::string value = labelValue(longName);
  EXPECT_LE(value.size(), 63u);
  EXPECT_TRUE(value.starts_with("h-"));
  EXPECT_EQ(value, labelValue(longName));
  EXPECT_NE(value, labelValue(std::string(199, 'a')));
  EXPECT_EQ(labelValue("edge"), "edge");
}

TEST(KubeLayoutTest, AgentShardsAreStableAcrossVersions) {
  // FNV-1a of the id: a new release must find every record where the last one put it.
  EXPECT_EQ(shardOf("agent-1", 32), 0);  // computed apart with the FNV-1a reference
  EXPECT_EQ(shardOf("agent-2", 32), 25);
  EXPECT_EQ(shardOf("", 32), 5);
}

TEST(KubeLayoutTest, AgentLinesRoundTripAndDamagedOnesAreDropped) {
  AgentRecord a{.id = "agent-1",
                .lastSeen = SystemTime(std::chrono::seconds(1700000000)),
                .trusted = {"sha256:" + std::string(64, 'a'), "sha256:" + std::string(64, 'b')},
                .version = "1.2.3"};
  const std::string line = agentLine(a);
  EXPECT_EQ(line, "agent-1 1700000000 1.2.3 " + std::string(64, 'a') + "," + std::string(64, 'b'));
  EXPECT_EQ(parseAgentLine(line), a);
  AgentRecord bare{.id = "agent-2", .lastSeen = SystemTime(std::chrono::seconds(5))};
  EXPECT_EQ(agentLine(bare), "agent-2 5 - -");
  EXPECT_EQ(parseAgentLine(agentLine(bare)), bare);
  for (const char* damaged : {"", "agent-1 x 1.2.3 -", "agent-1 1 1.2.3", "bad/id 1 - -", "agent-1 1 - nothex"}) {
    EXPECT_EQ(parseAgentLine(damaged), std::nullopt) << damaged;
  }
  const nlohmann::json shard = {{"data", {{"records", line + "\ngarbage\n" + agentLine(bare) + "\n"}}}};
  EXPECT_THAT(shardAgents(shard), IsOkAndHolds(::testing::ElementsAre(a, bare)));
}

std::vector<AgentRecord> fleet(int n, int64_t firstSeen) {
  const std::vector<std::string> oldCa = {"sha256:" + std::string(64, 'a')};
  const std::vector<std::string> both = {"sha256:" + std::string(64, 'a'), "sha256:" + std::string(63, 'b') + "c"};
  std::vector<AgentRecord> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({.id = "edge-" + std::to_string(i * 7919 % n) + ".example.com",
                   .lastSeen = SystemTime(std::chrono::seconds(firstSeen + i % 600)),
                   .trusted = i % 3 == 0 ? both : (i % 3 == 1 ? oldCa : std::vector<std::string>{}),
                   .version = i % 2 == 0 ? "1.4.0" : ""});
  }
  return out;
}

TEST(KubeLayoutTest, AnEncodedShardHoldsExactlyItsRecordsInAFewBytesEach) {
  std::vector<AgentRecord> records = fleet(10000, 1700000000);
  records.push_back({.id = "before-1970", .lastSeen = SystemTime(std::chrono::seconds(-5))});
  const std::string bytes = encodeAgentShard(records);
  auto decoded = decodeAgentShard(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  std::sort(records.begin(), records.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  EXPECT_EQ(*decoded, records);  // sorted by id, every field as it was
  EXPECT_LT(bytes.size(), records.size() * 8) << "format 1 takes about 100 bytes an agent here";
  EXPECT_THAT(decodeAgentShard(encodeAgentShard({})), IsOkAndHolds(::testing::IsEmpty()));
}

TEST(KubeLayoutTest, ADamagedShardIsRefusedWholeAndNamed) {
  const std::string bytes = encodeAgentShard(fleet(100, 1700000000));
  for (const std::string& damaged : {bytes.substr(0, bytes.size() / 2), bytes.substr(1), std::string("RAG2"),
                                     std::string(), std::string(bytes.size(), '\0')}) {
    EXPECT_THAT(decodeAgentShard(damaged), StatusIs(Code::kFailedPrecondition));
  }
  nlohmann::json configMap = {{"metadata", {{"namespace", "edge"}, {"name", "proxy-agents-3"}}},
                              {"binaryData", {{std::string(kAgentShardKey), "bm90IGEgc2hhcmQ="}}}};
  EXPECT_THAT(shardAgents(configMap), StatusIs(Code::kFailedPrecondition, ::testing::HasSubstr("edge/proxy-agents-3")));
}

TEST(KubeLayoutTest, AShardIsRewrittenInFormatTwoAndRefusedPastItsCap) {
  nlohmann::json configMap = {{"data", {{"records", agentLine(fleet(1, 5).front()) + "\n"}}}};
  std::vector<AgentRecord> records = fleet(3, 1700000000);
  ASSERT_TRUE(setShardAgents(configMap, records).ok());
  EXPECT_FALSE(configMap.contains("data"));  // format 1 is gone once the shard is written
  std::sort(records.begin(), records.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
  EXPECT_THAT(shardAgents(configMap), IsOkAndHolds(records));
  // Ids of random bytes do not compress: about 100 bytes each, so 10,000 of them pass the cap.
  std::vector<AgentRecord> random;
  uint64_t state = 88172645463325252u;
  for (int i = 0; i < 10000; ++i) {
    std::string id;
    for (int c = 0; c < 128; ++c) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      id.push_back("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[state % 62]);
    }
    random.push_back({.id = id, .lastSeen = SystemTime(std::chrono::seconds(1700000000))});
  }
  EXPECT_THAT(setShardAgents(configMap, random), StatusIs(Code::kResourceExhausted, ::testing::HasSubstr("shard")));
}

TEST(KubeLayoutTest, SnapshotsRoundTripAndADamagedCopyIsRefused) {
  Snapshot s{.name = "edge-r1-swap",
             .takenAt = SystemTime(std::chrono::seconds(1700000000)),
             .revision = 1,
             .reason = "swap",
             .servers = {{"proxy", {"CHAIN", "KEY", "CA"}}},
             .bundlePem = "BUNDLE"};
  auto back = snapshotFromJson(snapshotToJson(s).dump());
  ASSERT_OK(back);
  EXPECT_EQ(*back, s);
  EXPECT_THAT(snapshotFromJson("{}"), StatusIs(Code::kFailedPrecondition, "the snapshot's stored copy is damaged"));
  EXPECT_THAT(snapshotFromJson("not json"), StatusIs(Code::kFailedPrecondition));
}

}  // namespace
}  // namespace rotor::store::kube
