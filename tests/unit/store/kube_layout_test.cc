// The Kubernetes store's stored format: object names, agent shard lines and snapshot documents.
// A change here changes what an upgraded controller reads, so the values are pinned.
#include "controller/store/kube/layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor::store::kube {
namespace {

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
  EXPECT_THAT(shardRecords(shard),
              ::testing::ElementsAre(::testing::Pair("agent-1", line), ::testing::Pair("agent-2", agentLine(bare))));
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
