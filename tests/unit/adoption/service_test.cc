#include "controller/adoption/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "controller/adoption/adoption_store.h"
#include "controller/pki/digest.h"
#include "controller/store/forwarding_store.h"
#include "tests/support/agent_records.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_store.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::adoption {
namespace {

using nlohmann::json;

const std::string kToken = "s3cr3t-token-for-tests";
const std::string kBundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
std::string fp(char digit) { return "sha256:" + std::string(64, digit); }

class AdoptionServiceTest : public ::testing::Test {
protected:
  AdoptionServiceTest() {
    rotation_ = *store_.applyRotation(rotor::testing::rotationTemplate());
    EXPECT_OK(store_.addAgentTokenDigest(rotation_.key(), pki::sha256Hex(kToken)));
    EXPECT_OK(store_.writeBundle(rotation_, kBundle, {}));
  }

  http::HttpResponse put(const std::string& agent, const std::string& body, const std::string& token = kToken) {
    http::HttpRequest r{"PUT",
                        "/v1/namespaces/default/rotations/proxy/agents/" + agent,
                        "Bearer " + token,
                        "",
                        "application/json",
                        body,
                        std::nullopt};
    return service_.handle(r);
  }
  http::HttpResponse getBundle(const std::string& ifNoneMatch = "", const std::string& token = kToken) {
    return service_.handle(
        {"GET", "/v1/namespaces/default/rotations/proxy/bundle", "Bearer " + token, ifNoneMatch, "", "", std::nullopt});
  }
  static std::string reasonOf(const http::HttpResponse& r) { return json::parse(r.body).at("reason"); }
  std::string headerOf(const http::HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  std::vector<store::AgentRecord> agents() { return *rotor::testing::listAgents(store_, rotation_.key()); }

  rotor::testing::FakeClock clock_;
  rotor::testing::MemoryStore store_{clock_};
  AgentRegistry registry_{store_, store_, clock_};
  AdoptionService service_{store_, store_, store_, registry_, clock_};
  store::CertificateRotation rotation_;
};

TEST_F(AdoptionServiceTest, BundleIsServedWithItsSha256AsETagAndRevalidatesTo304) {
  http::HttpResponse first = getBundle();
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, kBundle);
  EXPECT_EQ(headerOf(first, "ETag"), "\"" + pki::sha256Hex(kBundle) + "\"");
  http::HttpResponse again = getBundle(headerOf(first, "ETag"));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(getBundle("\"other\", W/" + headerOf(first, "ETag")).status, 304);
  EXPECT_EQ(getBundle("\"other\"").status, 200);
}

TEST_F(AdoptionServiceTest, ABundleWrittenThroughTheAdoptionStoreIsServedAtOnce) {
  AdoptionStore view(store_, registry_, service_);
  const std::string before = headerOf(getBundle(), "ETag");
  auto stored = view.readBundle(rotation_);
  ASSERT_OK(stored);
  ASSERT_OK(view.writeBundle(rotation_, kBundle + kBundle, stored->version));
  http::HttpResponse after = getBundle(before);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, kBundle + kBundle);
}

TEST_F(AdoptionServiceTest, ATokenAnotherProcessJustStoredWorksAtOnce) {
  // `rotor token` runs as its own process: the controller's service learns of the new digest
  // only from the store, not through AdoptionStore's invalidation.
  ASSERT_EQ(getBundle().status, 200);  // the view is read and cached
  const std::string fresh = "a-token-made-a-moment-ago";
  ASSERT_OK(store_.addAgentTokenDigest(rotation_.key(), pki::sha256Hex(fresh)));
  std::this_thread::sleep_for(AdoptionService::kUnknownTokenRereadAfter);
  EXPECT_EQ(getBundle("", fresh).status, 200);
  EXPECT_EQ(put("agent-new", R"({"trusted": [], "version": "1"})", fresh).status, 200);
  // A wrong token is still refused, as a wrong token.
  const http::HttpResponse wrong = getBundle("", "not-a-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(reasonOf(wrong), "Unauthorized");
}

TEST_F(AdoptionServiceTest, CheckInIsRecordedAndAnswersWithTheBundleETag) {
  http::HttpResponse r =
      put("agent-1", R"({"trusted": ["sha256:)" + std::string(64, 'A') + R"("], "version": "2.4.1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("bundleEtag"), pki::sha256Hex(kBundle));
  ASSERT_OK(registry_.flush());
  ASSERT_EQ(agents().size(), 1u);
  EXPECT_EQ(agents()[0], (store::AgentRecord{"agent-1", clock_.now(), {fp('a')}, "2.4.1"}));
  EXPECT_EQ(service_.checkIns(CheckInResult::kAccepted), 1u);
}

TEST_F(AdoptionServiceTest, BadInputGetsAPrecise4xxAndChangesNothing) {
  struct Case {
    std::string agent, body, token;
    int status;
    std::string reason;
  };
  const std::string ok = R"({"trusted": [")" + fp('1') + R"("]})";
  const std::vector<Case> cases = {
      {"agent-1", "{not json", kToken, 400, "MalformedBody"},
      {"agent-1", "[]", kToken, 400, "MalformedBody"},
      {"agent-1", "{}", kToken, 400, "MissingTrusted"},
      {"agent-1", R"({"trusted": "sha256:x"})", kToken, 400, "MissingTrusted"},
      {"agent-1", R"({"trusted": ["sha256:abc"]})", kToken, 400, "InvalidFingerprint"},
      {"agent-1", R"({"trusted": ["md5:)" + std::string(64, 'a') + R"("]})", kToken, 400, "InvalidFingerprint"},
      {"agent-1", R"({"trusted": [1]})", kToken, 400, "InvalidFingerprint"},
      {"agent-1", R"({"trusted": [], "version": 7})", kToken, 400, "InvalidVersion"},
      {"agent-1", R"({"trusted": [], "version": "1 0"})", kToken, 400, "InvalidCheckIn"},
      {"agent 1", ok, kToken, 400, "InvalidAgentId"},
      {"agent%2F1", ok, kToken, 400, "InvalidAgentId"},
      {std::string(129, 'a'), ok, kToken, 400, "InvalidAgentId"},
      {"agent-1", std::string(kMaxBodyBytes + 1, ' '), kToken, 413, "BodyTooLarge"},
      {"agent-1", ok, "wrong", 401, "Unauthorized"},
      {"agent-1", ok, "", 401, "Unauthorized"},
  };
  for (const Case& c : cases) {
    http::HttpResponse r = put(c.agent, c.body, c.token);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_EQ(reasonOf(r), c.reason) << c.body;
  }
  std::string many = R"({"trusted": [)";
  for (size_t i = 0; i <= kMaxTrusted; ++i) many += (i ? ",\"" : "\"") + fp('1') + "\"";
  EXPECT_EQ(reasonOf(put("agent-1", many + "]}")), "TooManyFingerprints");
  http::HttpRequest xml{
      "PUT", "/v1/namespaces/default/rotations/proxy/agents/a", "Bearer " + kToken, "", "text/xml", ok, {}};
  EXPECT_EQ(service_.handle(xml).status, 415);
  ASSERT_OK(registry_.flush());
  EXPECT_TRUE(agents().empty());
  EXPECT_EQ(service_.checkIns(CheckInResult::kAccepted), 0u);
  EXPECT_GT(service_.checkIns(CheckInResult::kBadRequest), 10u);
}

TEST_F(AdoptionServiceTest, OneTokenRegistersAtMostItsLimitOfNewAgentsButKnownAgentsGoOn) {
  AgentRegistry registry{store_, store_, clock_};
  AdoptionService capped{store_, store_, store_, registry, clock_, {.agentsPerToken = 3}};
  const std::string other = "another-token-of-the-same-rotation";
  ASSERT_OK(store_.addAgentTokenDigest(rotation_.key(), pki::sha256Hex(other)));
  const auto putAs = [&](const std::string& agent, const std::string& token,
                         const std::string& body = R"({"trusted": [")" + fp('1') + R"("]})") {
    return capped.handle({"PUT", "/v1/namespaces/default/rotations/proxy/agents/" + agent, "Bearer " + token, "",
                          "application/json", body, std::nullopt});
  };
  EXPECT_EQ(putAs("bad-1", kToken, "{not json").status, 400) << "a refused check-in uses none of the allowance";
  EXPECT_EQ(putAs("bad-2", kToken, R"({"trusted": [], "version": "1 0"})").status, 400);
  for (const char* agent : {"a-1", "a-2", "a-3"}) EXPECT_EQ(putAs(agent, kToken).status, 200) << agent;
  http::HttpResponse refused = putAs("a-4", kToken);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(reasonOf(refused), "TooManyAgents");
  EXPECT_EQ(putAs("a-2", kToken).status, 200) << "an agent the registry knows is never refused";
  EXPECT_EQ(putAs("b-1", other).status, 200) << "the limit is per token";
  EXPECT_EQ(registry.agentCount(), 4u);
}

TEST_F(AdoptionServiceTest, AReplayedCheckInChangesNothingButTheLastSeenTime) {
  const std::string body = R"({"trusted": [")" + fp('1') + R"("], "version": "1.0"})";
  ASSERT_EQ(put("agent-1", body).status, 200);
  clock_.advance(std::chrono::seconds(30));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(put("agent-1", body).status, 200);
  ASSERT_OK(registry_.flush());
  ASSERT_EQ(agents().size(), 1u);
  EXPECT_EQ(agents()[0], (store::AgentRecord{"agent-1", clock_.now(), {fp('1')}, "1.0"}));
}

TEST_F(AdoptionServiceTest, RoutingAnswers404And405Precisely) {
  const auto call = [&](const std::string& method, const std::string& target) {
    return service_.handle({method, target, "Bearer " + kToken, "", "", "", std::nullopt});
  };
  EXPECT_EQ(reasonOf(call("GET", "/v1/namespaces/default/rotations/missing/bundle")), "RotationNotFound");
  EXPECT_EQ(reasonOf(call("GET", "/v2/namespaces/default/rotations/proxy/bundle")), "NotFound");
  EXPECT_EQ(reasonOf(call("GET", "/v1/namespaces/Bad_NS/rotations/proxy/bundle")), "InvalidName");
  http::HttpResponse r = call("POST", "/v1/namespaces/default/rotations/proxy/bundle");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(headerOf(r, "Allow"), "GET, HEAD");
  EXPECT_EQ(call("GET", "/v1/namespaces/default/rotations/proxy/agents/a").status, 405);
  EXPECT_EQ(call("GET", "/v1/namespaces/default/rotations/proxy/bundle?watch=1").status, 200);
  EXPECT_EQ(call("HEAD", "/v1/namespaces/default/rotations/proxy/bundle").body, "");
}

TEST_F(AdoptionServiceTest, MissingOrWrongTokenIs401WithAChallenge) {
  http::HttpResponse none =
      service_.handle({"GET", "/v1/namespaces/default/rotations/proxy/bundle", "", "", "", "", {}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(headerOf(none, "WWW-Authenticate"), "Bearer realm=\"rotor\"");
  http::HttpResponse wrong = getBundle("", kToken + "x");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(headerOf(wrong, "WWW-Authenticate"), ::testing::HasSubstr("invalid_token"));
  http::HttpResponse basic =
      service_.handle({"GET", "/v1/namespaces/default/rotations/proxy/bundle", "Basic YTpi", "", "", "", {}});
  EXPECT_EQ(basic.status, 401);
  EXPECT_THAT(wrong.body, ::testing::Not(::testing::HasSubstr(kToken)));
}

TEST_F(AdoptionServiceTest, ATokenOfAnotherRotationIsRefused) {
  store::CertificateRotation other = rotor::testing::rotationTemplate();
  other.metadata.name = "other";
  ASSERT_OK(store_.applyRotation(other).status());
  ASSERT_OK(store_.addAgentTokenDigest(other.key(), pki::sha256Hex("other-token")));
  EXPECT_EQ(getBundle("", "other-token").status, 401);
}

TEST_F(AdoptionServiceTest, AClientCertificateActsOnlyForTheAgentItNames) {
  const std::string body = R"({"trusted": [")" + fp('1') + R"("]})";
  http::HttpRequest r{"PUT", "/v1/namespaces/default/rotations/proxy/agents/agent-1", "", "", "", body, "agent-1"};
  EXPECT_EQ(service_.handle(r).status, 200);
  r.target = "/v1/namespaces/default/rotations/proxy/agents/agent-2";
  http::HttpResponse other = service_.handle(r);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(service_.handle({"GET", "/v1/namespaces/default/rotations/proxy/bundle", "", "", "", "", "agent-9"}).status,
            200);
}

TEST_F(AdoptionServiceTest, TokensAddedThroughTheAdoptionStoreWorkAtOnce) {
  AdoptionStore view(store_, registry_, service_);
  EXPECT_EQ(getBundle("", "new-token").status, 401);
  ASSERT_OK(view.addAgentTokenDigest(rotation_.key(), pki::sha256Hex("new-token")));
  EXPECT_EQ(getBundle("", "new-token").status, 200);
}

TEST(AgentRegistryTest, SurvivesARestartThroughTheStoreAndKeepsLastSeen) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto r = *store.applyRotation(rotor::testing::rotationTemplate());
  {
    AgentRegistry registry(store, store, clock);
    ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('2'), fp('1'), fp('2')}, "1.0"}));
    ASSERT_OK(registry.checkIn(r.key(), {"b", {fp('1')}, ""}));
    EXPECT_EQ(registry.dirtyCount(), 2u);
    ASSERT_OK(registry.flush());
    EXPECT_EQ(registry.dirtyCount(), 0u);
  }
  AgentRegistry restarted(store, store, clock);
  ASSERT_OK(restarted.loadAll());
  EXPECT_EQ(restarted.agentCount(), 2u);
  std::map<std::string, store::AgentRecord> seen;
  ASSERT_OK(restarted.visit(r.key(), [&](const store::AgentRecord& a) { seen[a.id] = a; }));
  EXPECT_EQ(seen["a"].trusted, (std::vector<std::string>{fp('1'), fp('2')}));
  EXPECT_EQ(seen["a"].lastSeen, clock.now());
  EXPECT_THAT(restarted.checkIn({"default", "missing"}, {"a", {}, ""}), rotor::testing::StatusIs(Code::kNotFound));
}

TEST(AgentRegistryTest, NotifiesOnlyWhenAnAgentAppearsOrItsTrustChanges) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto r = *store.applyRotation(rotor::testing::rotationTemplate());
  AgentRegistry registry(store, store, clock);
  int changes = 0;
  registry.setOnChange([&](const api::ObjectKey&) { ++changes; });
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, ""}));
  clock.advance(std::chrono::seconds(30));
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, "1.1"}));
  EXPECT_EQ(changes, 1);
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1'), fp('2')}, "1.1"}));
  EXPECT_EQ(changes, 2);
}

TEST(AgentRegistryTest, ItsTallyIsTheRecordByRecordTallyAtEveryStalenessBoundary) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto r = *store.applyRotation(rotor::testing::rotationTemplate());
  AgentRegistry registry(store, store, clock);
  // 60 agents, one every 250 ms, in three trust sets (two of them trusting fp('2'), one listing it
  // first): more pending agents than a tally lists as laggards.
  const std::vector<std::vector<std::string>> sets = {{fp('1')}, {fp('2'), fp('1')}, {fp('1'), fp('2')}};
  for (int i = 0; i < 60; ++i) {
    ASSERT_OK(registry.checkIn(r.key(), {"agent-" + std::to_string(59 - i), sets[static_cast<size_t>(i % 3)], ""}));
    clock.advance(std::chrono::milliseconds(250));
  }
  ASSERT_OK(registry.flush());  // the store now streams the same records
  int compared = 0;
  for (auto now = clock.now() - std::chrono::seconds(16); now <= clock.now(); now += std::chrono::milliseconds(125)) {
    for (Duration staleAfter : {Duration::zero(), Duration(std::chrono::seconds(3)), Duration(std::chrono::hours(1))}) {
      const store::TallyQuery query{fp('2'), now, staleAfter};
      const api::AdoptionStatus compact = *registry.tally(r.key(), query);
      EXPECT_EQ(compact, *store.tallyAgents(r.key(), query)) << "staleAfter " << staleAfter.count();
      compared += compact.active > 0 && compact.stale > 0 ? 1 : 0;
    }
  }
  EXPECT_GT(compared, 50);  // the comparisons crossed the boundary between stale and active
  const api::AdoptionStatus all = *registry.tally(r.key(), {fp('2'), clock.now(), std::chrono::hours(1)});
  EXPECT_EQ(all.active, 60);
  EXPECT_EQ(all.adopted, 40);
  EXPECT_EQ(all.laggards.size(), store::kMaxLaggards);
  EXPECT_EQ(all.laggards.front(), "agent-11");  // the pending ids (59 - i for i % 3 == 0), smallest first
}

/** Fails agent writes while `down` is set, and reads of rotations while `rotationsDown` is. */
class FlakyAgentStore final : public store::ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  bool down = true;
  bool rotationsDown = false;
  Status putAgents(const store::ObjectKey& k, const std::vector<store::AgentRecord>& a) override {
    return down ? unavailable("disk full") : ForwardingStore::putAgents(k, a);
  }
  StatusOr<store::CertificateRotation> getRotation(const store::ObjectKey& k) override {
    if (rotationsDown) return unavailable("API server unreachable");
    return ForwardingStore::getRotation(k);
  }
};

TEST(AgentRegistryTest, AFailedFlushKeepsTheRecordsForTheNextOne) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore inner(clock);
  auto r = *inner.applyRotation(rotor::testing::rotationTemplate());
  FlakyAgentStore flaky(inner);
  AgentRegistry registry(flaky, flaky, clock);
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, ""}));
  EXPECT_THAT(registry.flush(), rotor::testing::StatusIs(Code::kUnavailable));
  EXPECT_EQ(registry.dirtyCount(), 1u);
  EXPECT_TRUE(rotor::testing::listAgents(inner, r.key())->empty());
  flaky.down = false;
  flaky.rotationsDown = true;  // a flush that cannot even check the rotation keeps them too
  EXPECT_THAT(registry.flush(), rotor::testing::StatusIs(Code::kUnavailable));
  EXPECT_EQ(registry.dirtyCount(), 1u);
  flaky.rotationsDown = false;
  ASSERT_OK(registry.flush());
  EXPECT_EQ(registry.dirtyCount(), 0u);
  EXPECT_EQ(rotor::testing::listAgents(inner, r.key())->size(), 1u);
}

/** Keeps every batch of agent records written through it. */
class BatchRecordingStore final : public store::ForwardingStore {
public:
  BatchRecordingStore(store::Store& inner, uint32_t groups) : ForwardingStore(inner), groups_(groups) {}
  std::vector<std::vector<store::AgentRecord>> batches;
  Status putAgents(const store::ObjectKey& k, const std::vector<store::AgentRecord>& a) override {
    batches.push_back(a);
    return ForwardingStore::putAgents(k, a);
  }
  uint32_t agentGroups() const override { return groups_; }

private:
  uint32_t groups_;
};

TEST(AgentRegistryTest, AMereCheckInIsPersistedOnlyOnceALastSeenRefreshButAChangeAtTheNextFlush) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore inner(clock);
  auto r = *inner.applyRotation(rotor::testing::rotationTemplate());
  BatchRecordingStore store(inner, 16);
  AgentRegistry registry(store, store, clock, {.lastSeenRefresh = std::chrono::minutes(5)});
  const auto written = [&] {
    size_t n = 0;
    for (const auto& batch : store.batches) n += batch.size();
    store.batches.clear();
    return n;
  };
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, "1.0"}));
  ASSERT_OK(registry.checkIn(r.key(), {"b", {fp('1')}, "1.0"}));
  ASSERT_OK(registry.flush());
  EXPECT_EQ(written(), 2u);                     // new agents: at once
  for (int minute = 1; minute < 5; ++minute) {  // still there, nothing else new: nothing written
    clock.advance(std::chrono::minutes(1));
    ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, "1.0"}));
    ASSERT_OK(registry.checkIn(r.key(), {"b", {fp('1')}, "1.0"}));
    ASSERT_OK(registry.flush());
    EXPECT_EQ(written(), 0u) << minute;
  }
  ASSERT_OK(registry.checkIn(r.key(), {"b", {fp('1'), fp('2')}, "1.0"}));  // trusts a new CA: at once
  ASSERT_OK(registry.flush());
  EXPECT_EQ(written(), 1u);
  clock.advance(std::chrono::minutes(1));  // five minutes since the last refresh: a's time is written
  ASSERT_OK(registry.flush());
  ASSERT_EQ(store.batches.size(), 1u);
  EXPECT_EQ(store.batches[0].at(0).id, "a");
  EXPECT_EQ(store.batches[0].at(0).lastSeen, clock.now() - std::chrono::minutes(1));
  written();
  clock.advance(std::chrono::seconds(10));
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, "1.0"}));
  ASSERT_OK(registry.flush());
  EXPECT_EQ(written(), 0u);
  ASSERT_OK(registry.flush(AgentRegistry::Persist::kEverything));  // a graceful stop keeps every last time
  EXPECT_EQ(written(), 1u);
  EXPECT_EQ(rotor::testing::listAgents(inner, r.key())->at(0).lastSeen, clock.now());
}

TEST(AgentRegistryTest, ABatchHoldsTheAgentsOfOneGroupOnly) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore inner(clock);
  auto r = *inner.applyRotation(rotor::testing::rotationTemplate());
  BatchRecordingStore store(inner, 4);
  AgentRegistry registry(store, store, clock);
  for (int i = 0; i < 100; ++i) ASSERT_OK(registry.checkIn(r.key(), {"agent-" + std::to_string(i), {fp('1')}, ""}));
  ASSERT_OK(registry.flush());
  EXPECT_EQ(store.batches.size(), 4u);  // one write per shard of a Kubernetes store
  for (const auto& batch : store.batches) {
    for (const store::AgentRecord& a : batch)
      EXPECT_EQ(store::agentGroupOf(a.id, 4), store::agentGroupOf(batch[0].id, 4));
  }
  EXPECT_EQ(rotor::testing::listAgents(inner, r.key())->size(), 100u);
}

TEST(AgentRegistryTest, AfterARestartTheGateJudgesLoadedAgentsByTheWorstTheStoredTimesAllow) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto r = *store.applyRotation(rotor::testing::rotationTemplate());
  const Duration refresh = std::chrono::minutes(5), staleAfter = std::chrono::hours(1);
  {
    AgentRegistry registry(store, store, clock, {.lastSeenRefresh = refresh});
    ASSERT_OK(registry.checkIn(r.key(), {"pending", {fp('1')}, ""}));
    ASSERT_OK(registry.checkIn(r.key(), {"adopted", {fp('1'), fp('2')}, ""}));
    ASSERT_OK(registry.flush());
    // Both go on checking in for four more minutes; the process dies before a refresh is written.
    clock.advance(std::chrono::minutes(4));
    ASSERT_OK(registry.checkIn(r.key(), {"pending", {fp('1')}, ""}));
    ASSERT_OK(registry.checkIn(r.key(), {"adopted", {fp('1'), fp('2')}, ""}));
  }
  const SystemTime stored = clock.now() - std::chrono::minutes(4);
  AgentRegistry restarted(store, store, clock, {.lastSeenRefresh = refresh});
  ASSERT_OK(restarted.loadAll());
  const auto tallyAt = [&](SystemTime at) { return *restarted.tally(r.key(), {fp('2'), at, staleAfter}); };
  // Past staleAfter of the stored time: the agent that had not adopted may well be active still
  // (it was, four minutes later), so it holds the gate; the one that had adopted no longer counts.
  api::AdoptionStatus t = tallyAt(stored + staleAfter + std::chrono::seconds(1));
  EXPECT_EQ(t.active, 1);
  EXPECT_EQ(t.adopted, 0);
  EXPECT_EQ(t.laggards, std::vector<std::string>{"pending"});
  // Twice the refresh later, it is stale too.
  t = tallyAt(stored + staleAfter + 2 * refresh + std::chrono::seconds(1));
  EXPECT_EQ(t.active, 0);
  EXPECT_EQ(t.stale, 2);
  // Once it checks in with this process, its time is exact again.
  clock.advance(staleAfter);
  ASSERT_OK(restarted.checkIn(r.key(), {"pending", {fp('1')}, ""}));
  EXPECT_EQ(tallyAt(clock.now() + staleAfter + std::chrono::seconds(1)).stale, 2);
}

TEST(AgentRegistryTest, ADeletedRotationsAgentsAreForgottenAtTheNextFlush) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto r = *store.applyRotation(rotor::testing::rotationTemplate());
  AgentRegistry registry(store, store, clock);
  ASSERT_OK(registry.checkIn(r.key(), {"a", {fp('1')}, ""}));
  ASSERT_OK(store.deleteRotation(r.key()));
  ASSERT_OK(registry.flush());  // the rotation is gone: its agents are forgotten, not an error
  EXPECT_EQ(registry.agentCount(), 0u);
}

TEST(AgentRegistryTest, ARotationCreatedAgainUnderItsNameStartsWithoutTheOldAgents) {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store(clock);
  auto old = *store.applyRotation(rotor::testing::rotationTemplate());
  AgentRegistry registry(store, store, clock);
  ASSERT_OK(registry.checkIn(old.key(), {"a", {fp('1')}, ""}, old.metadata.uid));
  ASSERT_OK(registry.checkIn(old.key(), {"b", {fp('1')}, ""}, old.metadata.uid));
  // Another process deletes and re-creates it: the registry only sees a new uid.
  ASSERT_OK(store.deleteRotation(old.key()));
  auto recreated = *store.applyRotation(rotor::testing::rotationTemplate());
  ASSERT_NE(recreated.metadata.uid, old.metadata.uid);
  std::vector<std::string> ids;
  ASSERT_OK(registry.visit(recreated.key(), [&](const store::AgentRecord& a) { ids.push_back(a.id); }));
  EXPECT_TRUE(ids.empty());
  // A check-in authorized against the old rotation is refused, not counted for the new one.
  EXPECT_THAT(registry.checkIn(old.key(), {"a", {fp('1')}, ""}, old.metadata.uid),
              rotor::testing::StatusIs(Code::kNotFound));
  ASSERT_OK(registry.checkIn(recreated.key(), {"c", {fp('2')}, ""}, recreated.metadata.uid));
  ASSERT_OK(registry.flush());
  ASSERT_EQ(rotor::testing::listAgents(store, recreated.key())->size(), 1u);
  EXPECT_EQ(rotor::testing::listAgents(store, recreated.key())->front().id, "c");
}

}  // namespace
}  // namespace rotor::adoption
