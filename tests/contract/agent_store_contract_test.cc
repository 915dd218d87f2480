// AgentStore and AgentTokenStore (controller/store/agent_store.h): every implementation.
#include "tests/contract/store_backends.h"
#include "tests/support/agent_records.h"

namespace rotor::store::contract {
namespace {

using rotor::testing::StatusIs;
using ::testing::ElementsAre;

std::string fingerprintOf(char digit) { return "sha256:" + std::string(64, digit); }

template <typename Backend>
class AgentStoreContract : public ContractTest<Backend> {
protected:
  AgentStore& agents() { return this->backend.get(); }
};
TYPED_TEST_SUITE(AgentStoreContract, Backends);

TYPED_TEST(AgentStoreContract, AgentRecordsNeedTheRotation) {
  AgentStore& agents = this->agents();
  auto r = this->stored();
  AgentRecord a{"agent-1", rotor::testing::fixtureNow(), {fingerprintOf('a')}, "1.0"};
  ASSERT_OK(rotor::testing::putAgent(agents, r.key(), a));
  a.trusted.push_back(fingerprintOf('b'));
  ASSERT_OK(rotor::testing::putAgent(agents, r.key(), a));
  auto listed = rotor::testing::listAgents(agents, r.key());
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front(), a);
  EXPECT_THAT(rotor::testing::putAgent(agents, {"default", "missing"}, a), StatusIs(Code::kNotFound));
}

TYPED_TEST(AgentStoreContract, AgentBatchesUpsertByIdAndVisitEachAgentOnce) {
  AgentStore& agents = this->agents();
  auto r = this->stored();
  const SystemTime t0 = rotor::testing::fixtureNow();
  ASSERT_OK(agents.putAgents(r.key(), {{"a", t0, {}, ""}, {"b", t0, {fingerprintOf('1')}, "2.0"}}));
  ASSERT_OK(agents.putAgents(r.key(), {{"a", t0 + std::chrono::seconds(5), {fingerprintOf('2')}, "2.1"},
                                       {"c", t0, {fingerprintOf('1'), fingerprintOf('2')}, ""}}));
  std::map<std::string, AgentRecord> seen;
  ASSERT_OK(agents.visitAgents(
      r.key(), [&](const AgentRecord& a) { EXPECT_TRUE(seen.emplace(a.id, a).second) << a.id << " visited twice"; }));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen["a"], (AgentRecord{"a", t0 + std::chrono::seconds(5), {fingerprintOf('2')}, "2.1"}));
  EXPECT_EQ(seen["b"].trusted, std::vector<std::string>{fingerprintOf('1')});
  EXPECT_EQ(seen["c"].trusted.size(), 2u);
}

TYPED_TEST(AgentStoreContract, TheTallyCountsWhatIsStored) {
  AgentStore& agents = this->agents();
  auto r = this->stored();
  const SystemTime t0 = rotor::testing::fixtureNow();
  ASSERT_OK(agents.putAgents(r.key(), {{"adopted", t0, {fingerprintOf('1'), fingerprintOf('2')}, ""},
                                       {"pending", t0, {fingerprintOf('1')}, ""},
                                       {"stale", t0 - std::chrono::hours(2), {fingerprintOf('1')}, ""}}));
  auto tally = agents.tallyAgents(r.key(), {fingerprintOf('2'), t0, std::chrono::hours(1)});
  ASSERT_OK(tally);
  EXPECT_EQ(tally->active, 2);
  EXPECT_EQ(tally->adopted, 1);
  EXPECT_EQ(tally->stale, 1);
  EXPECT_THAT(tally->laggards, ElementsAre("pending"));
}

TYPED_TEST(AgentStoreContract, InvalidAgentRecordsAreRefusedWhole) {
  AgentStore& agents = this->agents();
  auto r = this->stored();
  const SystemTime t0 = rotor::testing::fixtureNow();
  const std::vector<AgentRecord> bad[] = {
      {{"ok", t0, {}, ""}, {"has space", t0, {}, ""}},
      {{"ok", t0, {"sha256:abc"}, ""}},
      {{"ok", t0, {fingerprintOf('A')}, ""}},
      {{"ok", t0, {}, "1 .0"}},
      {{std::string(kMaxAgentIdLength + 1, 'x'), t0, {}, ""}},
      {{"", t0, {}, ""}},
  };
  for (const auto& batch : bad) {
    EXPECT_THAT(agents.putAgents(r.key(), batch), StatusIs(Code::kInvalidArgument));
  }
  EXPECT_THAT(*rotor::testing::listAgents(agents, r.key()), ::testing::IsEmpty());
}

template <typename Backend>
class AgentTokenStoreContract : public ContractTest<Backend> {
protected:
  AgentTokenStore& tokens() { return this->backend.get(); }
  AgentStore& agents() { return this->backend.get(); }
};
TYPED_TEST_SUITE(AgentTokenStoreContract, Backends);

TYPED_TEST(AgentTokenStoreContract, TokenDigestsAccumulateAndGoWithTheRotation) {
  AgentTokenStore& tokens = this->tokens();
  auto r = this->stored();
  EXPECT_THAT(*tokens.readAgentTokenDigests(r.key()), ::testing::IsEmpty());
  ASSERT_OK(tokens.addAgentTokenDigest(r.key(), std::string(64, 'a')));
  ASSERT_OK(tokens.addAgentTokenDigest(r.key(), std::string(64, 'b')));
  EXPECT_THAT(*tokens.readAgentTokenDigests(r.key()), ElementsAre(std::string(64, 'a'), std::string(64, 'b')));
  EXPECT_THAT(tokens.addAgentTokenDigest({"default", "missing"}, std::string(64, 'c')), StatusIs(Code::kNotFound));
  ASSERT_OK(rotor::testing::putAgent(this->agents(), r.key(), {"a", rotor::testing::fixtureNow(), {}, ""}));
  ASSERT_OK(this->rotations().deleteRotation(r.key()));
  auto again = this->stored();
  EXPECT_THAT(*tokens.readAgentTokenDigests(again.key()), ::testing::IsEmpty());
  EXPECT_THAT(*rotor::testing::listAgents(this->agents(), again.key()), ::testing::IsEmpty());
}

}  // namespace
}  // namespace rotor::store::contract
