#include "reconcilers/driver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/api/ca_source.h"
#include "controller/pki/bundle.h"
#include "controller/pki/verify.h"
#include "controller/store/forwarding_store.h"
#include "reconcilers/ca_renewal.h"
#include "reconcilers/gates.h"
#include "reconcilers/triggers.h"
#include "tests/support/agent_records.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

// A CA nobody stages: what an agent that has not learned the new CA trusts.
const std::string kOtherFingerprint = "sha256:" + std::string(64, '0');

using api::Phase;
using rotor::testing::RotationHarness;
using rotor::testing::rotationTemplate;
using rotor::testing::servedVerifiesAgainstBundle;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> bundleFingerprints(store::Store& s, const api::CertificateRotation& r) {
  std::vector<std::string> out;
  for (const auto& f : pki::fingerprints(pki::parsePemBundle(*s.readBundle(r)->value).value())) {
    out.push_back(f.toString());
  }
  return out;
}

std::vector<Phase> timelinePhases(const api::CertificateRotation& r) {
  std::vector<Phase> out;
  for (const auto& e : r.status.timeline) out.push_back(e.phase);
  return out;
}

class DriverTest : public ::testing::Test {
protected:
  RotationHarness h;

  api::ObjectKey bootstrap(const api::CertificateRotation& spec = rotationTemplate(2)) {
    auto r = h.create(spec);
    EXPECT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
    return r.key();
  }

  /** Degraded for `reason`, and a Warning event said so. */
  void expectRefused(const api::RotationStatus& status, const std::string& reason) {
    const api::Condition* degraded = api::findCondition(status, api::kConditionDegraded);
    ASSERT_NE(degraded, nullptr);
    EXPECT_EQ(degraded->status, "True");
    EXPECT_EQ(degraded->reason, reason);
    EXPECT_THAT(h.events.reasons, Contains("Warning:" + reason));
  }
};

TEST_F(DriverTest, BootstrapIssuesEverythingAndIsReadyAtRevisionOne) {
  auto key = bootstrap();
  auto r = h.get(key);
  EXPECT_EQ(r.status.revision, 1);
  EXPECT_EQ(r.status.servers.size(), 2u);
  EXPECT_EQ(r.status.servers[0].issuerFingerprint, r.status.ca.current->fingerprint);
  EXPECT_EQ(api::findCondition(r.status, api::kConditionReady)->status, "True");
  // Not the bootstrap's reload message: nothing was there to adopt.
  const api::Condition* adopted = api::findCondition(r.status, api::kConditionAdoptionComplete);
  ASSERT_NE(adopted, nullptr);
  EXPECT_EQ(adopted->reason, "NothingStaged");
  EXPECT_EQ(adopted->message, "No new CA is staged: clients need to trust only the current CA");
  EXPECT_THAT(timelinePhases(r), ElementsAre(Phase::kIssuing, Phase::kReady));
  EXPECT_TRUE(servedVerifiesAgainstBundle(h.store, r, h.clock.now()));
  EXPECT_THAT(h.store.reloads(), ElementsAre("default/proxy/a", "default/proxy/b"));
}

TEST_F(DriverTest, FullCaRotationWalksEveryPhaseAndEndsAtRevisionTwo) {
  auto key = bootstrap();
  const auto before = h.get(key);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  auto r = h.get(key);
  EXPECT_EQ(r.status.trigger, "");
  EXPECT_EQ(r.status.ca.previous->fingerprint, before.status.ca.current->fingerprint);
  EXPECT_NE(r.status.ca.current->fingerprint, before.status.ca.current->fingerprint);
  EXPECT_FALSE(r.status.ca.next.has_value());
  // The bundle holds the new CA only; every server presents a certificate from it.
  EXPECT_THAT(bundleFingerprints(h.store, r), ElementsAre(r.status.ca.current->fingerprint));
  for (const auto& s : r.status.servers) EXPECT_EQ(s.issuerFingerprint, r.status.ca.current->fingerprint);
  EXPECT_TRUE(servedVerifiesAgainstBundle(h.store, r, h.clock.now()));
  // Servers were swapped and verified one at a time.
  EXPECT_THAT(timelinePhases(r), ElementsAre(Phase::kIssuing, Phase::kReady, Phase::kStaging, Phase::kAwaitingAdoption,
                                             Phase::kSwapping, Phase::kVerifying, Phase::kSwapping, Phase::kVerifying,
                                             Phase::kDraining, Phase::kPruning, Phase::kReady));
  EXPECT_THAT(*h.store.listSnapshots(r), ElementsAre("proxy-r1-swap", "proxy-r1-prune"));
  EXPECT_EQ(api::findCondition(r.status, api::kConditionRollbackAvailable)->status, "True");
  EXPECT_EQ(api::findCondition(r.status, api::kConditionAdoptionComplete)->status, "True");
  // The rotation does not run again by itself.
  auto quiet = h.driver(h.store).reconcile(key);
  ASSERT_OK(quiet);
  EXPECT_TRUE(quiet->transitions.empty());
}

TEST_F(DriverTest, TheBundleTrustsWhatIsServedAfterEveryWrite) {
  auto key = bootstrap();
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  auto driver = h.driver(h.store);
  for (int i = 0; i < 200 && !(h.get(key).status.phase == Phase::kReady && h.get(key).status.revision == 2); ++i) {
    auto result = driver.reconcile(key);
    ASSERT_OK(result);
    ASSERT_TRUE(servedVerifiesAgainstBundle(h.store, h.get(key), h.clock.now())) << "after reconcile " << i;
    h.clock.advance(std::max<Duration>(result->requeueAfter, std::chrono::seconds(1)));
  }
  EXPECT_EQ(h.get(key).status.revision, 2);
}

/** Copies of the bundle in namespaces, as the Kubernetes store keeps them: a namespace listed in
 *  `stuck` does not take its write (a conflict, a slow API server) until it is taken off. */
class CopyingStore final : public store::ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  StatusOr<api::BundleCopiesStatus> syncBundleCopies(const api::CertificateRotation& r,
                                                     const std::string& pem) override {
    api::BundleCopiesStatus status;
    for (const std::string& ns : namespaces) {
      if (!r.spec.trustBundle.namespaceSelector) {
        copies.erase(ns);
        continue;
      }
      if (foreign.contains(ns)) {
        status.foreign.push_back(ns);
        continue;
      }
      ++status.wanted;
      if (!stuck.contains(ns)) copies[ns] = pem;
      if (copies.contains(ns) && copies[ns] == pem) ++status.current;
    }
    return status;
  }
  std::vector<std::string> namespaces = {"a", "b", "c"};
  std::set<std::string> stuck, foreign = {"c"};
  std::map<std::string, std::string> copies;
};

TEST_F(DriverTest, TheGateAndThePruneWaitForEveryCopyOfTheBundle) {
  auto spec = rotationTemplate(1);
  spec.spec.trustBundle.namespaceSelector = api::LabelSelector{};
  CopyingStore copying(h.store);
  auto key = h.create(spec).key();
  const auto reach = [&](Phase phase, int64_t revision = 0) {
    return h.runUntil(
        key,
        [&](const api::CertificateRotation& r) { return r.status.phase == phase && r.status.revision >= revision; },
        400, &copying);
  };
  ASSERT_OK(reach(Phase::kReady, 1));
  auto r = h.get(key);
  const std::string bundle = *h.store.readBundle(r)->value;
  EXPECT_EQ(copying.copies.at("a"), bundle);
  EXPECT_EQ(copying.copies.at("b"), bundle);
  ASSERT_TRUE(r.status.bundleCopies.has_value());
  EXPECT_EQ(r.status.bundleCopies->wanted, 2);
  EXPECT_EQ(r.status.bundleCopies->current, 2);
  EXPECT_THAT(r.status.bundleCopies->foreign, ElementsAre("c"));
  EXPECT_EQ(std::count(h.events.reasons.begin(), h.events.reasons.end(), "Warning:ForeignBundleObject"), 1);

  // Staged, but namespace b does not take the new bundle: the gate (time only, no agents) holds.
  copying.stuck = {"b"};
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(reach(Phase::kAwaitingAdoption));
  for (int i = 0; i < 5; ++i) {
    auto result = h.driver(copying).reconcile(key);
    ASSERT_OK(result);
    h.clock.advance(result->requeueAfter);
  }
  r = h.get(key);
  EXPECT_EQ(r.status.phase, Phase::kAwaitingAdoption);
  EXPECT_THAT(r.status.message, HasSubstr("the bundle is in 1 of 2 namespaces"));
  EXPECT_EQ(r.status.bundleCopies->current, 1);
  copying.stuck.clear();
  ASSERT_OK(reach(Phase::kDraining));
  EXPECT_EQ(copying.copies.at("b"), *h.store.readBundle(h.get(key))->value);  // old + new

  // Pruned in the bundle, but not yet in a: Pruning waits, then ends with every copy pruned.
  copying.stuck = {"a"};
  ASSERT_OK(reach(Phase::kPruning));
  for (int i = 0; i < 5; ++i) {
    auto result = h.driver(copying).reconcile(key);
    ASSERT_OK(result);
    h.clock.advance(std::max<Duration>(result->requeueAfter, std::chrono::seconds(1)));
  }
  EXPECT_EQ(h.get(key).status.phase, Phase::kPruning);
  copying.stuck.clear();
  ASSERT_OK(reach(Phase::kReady, 2));
  r = h.get(key);
  EXPECT_THAT(bundleFingerprints(h.store, r), ElementsAre(r.status.ca.current->fingerprint));
  EXPECT_EQ(copying.copies.at("a"), *h.store.readBundle(r)->value);
  EXPECT_EQ(std::count(h.events.reasons.begin(), h.events.reasons.end(), "Warning:ForeignBundleObject"), 1);

  // The selector goes: so do the copies, and the status that counted them.
  r.spec.trustBundle.namespaceSelector.reset();
  ASSERT_OK(h.store.updateRotation(r));
  ASSERT_OK(h.driver(copying).reconcile(key).status());
  EXPECT_TRUE(copying.copies.empty());
  EXPECT_FALSE(h.get(key).status.bundleCopies.has_value());
}

TEST_F(DriverTest, AdoptionGateWaitsForAgentsNamesLaggardsAndOpensAtThreshold) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.threshold = 100;
  spec.spec.adoption.minAgents = 2;
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  const std::string next = h.get(key).status.ca.next->fingerprint;
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-1", h.clock.now(), {next}, "1.0"}));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-2", h.clock.now(), {kOtherFingerprint}, "1.0"}));
  h.clock.advance(std::chrono::hours(1));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-1", h.clock.now(), {next}, "1.0"}));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-2", h.clock.now(), {kOtherFingerprint}, "1.0"}));
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  auto waiting = h.get(key);
  EXPECT_EQ(waiting.status.phase, Phase::kAwaitingAdoption);
  EXPECT_EQ(waiting.status.adoption.active, 2);
  EXPECT_EQ(waiting.status.adoption.adopted, 1);
  EXPECT_THAT(waiting.status.adoption.laggards, ElementsAre("agent-2"));
  EXPECT_THAT(waiting.status.message, HasSubstr("1/2 active agents"));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-2", h.clock.now(), {next, kOtherFingerprint}, "1.0"}));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, AManualGateWaitsForApprovalEvenWhenEveryAgentAdopted) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.mode = api::AdoptionMode::kManual;
  auto key = bootstrap(spec);
  // An approval given before the rotation started approves nothing.
  h.annotate(key, std::string(api::kApproveAnnotation), "early");
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  const std::string next = h.get(key).status.ca.next->fingerprint;
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-1", h.clock.now(), {next}, "1.0"}));
  auto driver = h.driver(h.store);
  for (int i = 0; i < 20; ++i) {
    auto result = driver.reconcile(key);
    ASSERT_OK(result);
    EXPECT_LE(result->requeueAfter, kAdoptionPollInterval);
    h.clock.advance(std::chrono::minutes(30));
  }
  auto waiting = h.get(key);
  EXPECT_EQ(waiting.status.phase, Phase::kAwaitingAdoption);
  EXPECT_THAT(waiting.status.message, HasSubstr("Waiting for approval (rotor approve); measured: 1/1 active agents"));
  h.annotate(key, std::string(api::kApproveAnnotation), "now");
  ASSERT_OK(driver.reconcile(key));
  EXPECT_THAT(timelinePhases(h.get(key)), Contains(Phase::kSwapping));
  EXPECT_EQ(h.get(key).status.handled.approve, "now");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, OnTimeoutProceedSwapsAfterTheGracePeriodWithAWarningCountingLaggards) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minAgents = 2;
  spec.spec.adoption.timeout = std::chrono::hours(2);
  spec.spec.adoption.onTimeout = api::TimeoutAction::kProceed;
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  const SystemTime staged = *h.get(key).status.phaseStartedAt;
  const std::string next = h.get(key).status.ca.next->fingerprint;
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-1", h.clock.now(), {next}, "1.0"}));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-2", h.clock.now(), {kOtherFingerprint}, "1.0"}));
  ASSERT_OK(h.runUntil(
      key,
      [](const api::CertificateRotation& r) {
        return r.status.phase != Phase::kAwaitingAdoption && r.status.phase != Phase::kStaging;
      },
      /*rounds=*/1000));
  EXPECT_GE(h.clock.now(), staged + std::chrono::hours(2));
  EXPECT_THAT(h.events.reasons, Contains("Warning:AdoptionTimeoutProceeded"));
  const api::PhaseEntry swap = h.get(key).status.timeline.at(4);
  EXPECT_EQ(swap.phase, Phase::kSwapping);
  EXPECT_THAT(swap.message,
              HasSubstr("proceeding as adoption.onTimeout says: Waiting for adoption: 1/2 active agents"));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, AnApprovalLetsABlockedGateGoOn) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minAgents = 1;
  spec.spec.adoption.timeout = std::chrono::hours(1);
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kBlocked));
  EXPECT_THAT(h.events.reasons, ::testing::Not(Contains("Warning:AdoptionTimeoutProceeded")));
  h.annotate(key, std::string(api::kApproveAnnotation), "go");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_THAT(h.events.reasons, Contains("Approved"));
}

TEST_F(DriverTest, KeyRotationPolicyNeverKeepsTheServedKeyThroughRenewalsAndRotations) {
  auto spec = rotationTemplate(1);
  spec.spec.certificate.keyRotationPolicy = api::KeyRotationPolicy::kNever;
  auto key = bootstrap(spec);
  const auto first = *h.store.readServed(h.get(key), "a")->value;
  h.annotate(key, std::string(api::kRenewAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  const auto renewed = *h.store.readServed(h.get(key), "a")->value;
  EXPECT_NE(renewed.certificateChainPem, first.certificateChainPem);
  EXPECT_EQ(renewed.keyPem, first.keyPem);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 3));
  EXPECT_EQ(h.store.readServed(h.get(key), "a")->value->keyPem, first.keyPem);
  // A key of another algorithm than the spec asks for is not kept.
  h.editSpec(key, [](api::RotationSpec& s) { s.certificate.privateKey = {KeyAlgorithm::kEd25519, 0}; });
  h.annotate(key, std::string(api::kRenewAnnotation), "2");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 4));
  EXPECT_NE(h.store.readServed(h.get(key), "a")->value->keyPem, first.keyPem);
  // The default makes a new key every time.
  h.editSpec(key, [](api::RotationSpec& s) { s.certificate.keyRotationPolicy = api::KeyRotationPolicy::kAlways; });
  const auto before = h.store.readServed(h.get(key), "a")->value->keyPem;
  h.annotate(key, std::string(api::kRenewAnnotation), "3");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 5));
  EXPECT_NE(h.store.readServed(h.get(key), "a")->value->keyPem, before);
}

TEST_F(DriverTest, ACaRenewalKeepsTheKeyAndNeedsNoAdoptionRound) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minAgents = 5;  // a gate no agent here could open
  auto key = bootstrap(spec);
  const auto before = h.get(key);
  const auto oldAuthorities = h.store.readAuthorities(before)->value;
  const std::string oldBundle = *h.store.readBundle(before)->value;
  h.clock.advance(std::chrono::hours(24));
  h.annotate(key, std::string(api::kRenewCaAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  auto r = h.get(key);
  EXPECT_THAT(timelinePhases(r),
              ElementsAre(Phase::kIssuing, Phase::kReady, Phase::kSwapping, Phase::kVerifying, Phase::kReady));
  const auto renewed = h.store.readAuthorities(r)->value;
  EXPECT_EQ(renewed.current->keyPem, oldAuthorities.current->keyPem);
  EXPECT_NE(r.status.ca.current->fingerprint, before.status.ca.current->fingerprint);
  EXPECT_GT(*r.status.ca.current->notAfter, *before.status.ca.current->notAfter);
  EXPECT_THAT(bundleFingerprints(h.store, r),
              ElementsAre(before.status.ca.current->fingerprint, r.status.ca.current->fingerprint));
  EXPECT_EQ(r.status.servers[0].issuerFingerprint, r.status.ca.current->fingerprint);
  // A client that never got the new bundle still verifies the renewed server certificate.
  const auto served = pki::parsePemBundle(h.store.readServed(r, "a")->value->certificateChainPem).value();
  EXPECT_OK(pki::verifyChain(served.front(), {}, pki::parsePemBundle(oldBundle).value(), h.clock.now()));
  EXPECT_THAT(*h.store.listSnapshots(r), ElementsAre("proxy-r1-swap"));
  // Nothing runs again on the next pass.
  auto quiet = h.driver(h.store).reconcile(key);
  ASSERT_OK(quiet);
  EXPECT_TRUE(quiet->transitions.empty());
}

TEST(CaRenewalTest, AnImportedCaOrAnotherKeyIsExplainedNotRenewed) {
  auto r = rotationTemplate(1);
  const auto ca = rotor::testing::makeCa("Proxy CA");
  r.spec.ca.generate->privateKey = ca.key().spec();
  EXPECT_EQ(whyCaNotRenewable(r, ca), std::nullopt);
  r.spec.ca.generate->privateKey = {KeyAlgorithm::kRsa, 3072};
  EXPECT_THAT(whyCaNotRenewable(r, ca).value_or(""), HasSubstr("asks for RSA-3072 but the CA's key is"));
  r.spec.ca.generate.reset();
  r.spec.ca.files = api::CaFilesSpec{"ca.crt", "ca.key"};
  EXPECT_THAT(whyCaNotRenewable(r, ca).value_or(""), HasSubstr("the CA is imported (spec.ca.files)"));
}

TEST_F(DriverTest, WaitingOutMinStageDurationWritesNoStatusWhileOnlyTimePasses) {
  // Each status write wakes every watcher, the controller included: a message with a countdown
  // made a waiting rotation rewrite its status many times a second.
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minStageDuration = std::chrono::hours(1);
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  auto driver = h.driver(h.store);
  for (int i = 0; i < 20 && h.get(key).status.phase != Phase::kAwaitingAdoption; ++i) {
    ASSERT_OK(driver.reconcile(key));
    h.clock.advance(std::chrono::seconds(1));
  }
  ASSERT_OK(driver.reconcile(key));
  const auto waiting = h.get(key);
  ASSERT_EQ(waiting.status.phase, Phase::kAwaitingAdoption);
  EXPECT_THAT(waiting.status.message,
              HasSubstr("until " + formatRfc3339(*waiting.status.phaseStartedAt + std::chrono::hours(1))));
  for (int i = 0; i < 300; ++i) {  // a watch event every 100 ms for 30 s
    h.clock.advance(std::chrono::milliseconds(100));
    auto result = driver.reconcile(key);
    ASSERT_OK(result);
    EXPECT_GT(result->requeueAfter, std::chrono::minutes(59));
  }
  EXPECT_EQ(h.get(key).metadata.resourceVersion, waiting.metadata.resourceVersion);
  EXPECT_EQ(h.get(key).status.phase, Phase::kAwaitingAdoption);
}

TEST_F(DriverTest, VerifyingWaitsForTheRestartedWorkloadToRollOutThenBakes) {
  // After a restart the new pods do not exist yet: nothing is verified until they roll out.
  auto key = bootstrap(rotationTemplate(1));
  h.store.setRollout("a", {false, "Deployment proxy: 0 of 2 new replicas have been updated"});
  h.annotate(key, std::string(api::kRenewAnnotation), "1");
  auto driver = h.driver(h.store);
  for (int i = 0; i < 20 && h.get(key).status.phase != Phase::kVerifying; ++i) {
    ASSERT_OK(driver.reconcile(key));
    h.clock.advance(std::chrono::seconds(1));
  }
  for (int i = 0; i < 30; ++i) {  // a minute of rolling out
    auto result = driver.reconcile(key);
    ASSERT_OK(result);
    h.clock.advance(result->requeueAfter);
  }
  auto rolling = h.get(key);
  EXPECT_EQ(rolling.status.phase, Phase::kVerifying);
  EXPECT_THAT(rolling.status.message, HasSubstr("0 of 2 new replicas"));
  EXPECT_FALSE(rolling.status.servers[0].rolledOutAt.has_value());
  EXPECT_FALSE(rolling.status.servers[0].verifiedAt.has_value());

  h.store.setRollout("a", {});
  const SystemTime rolledOut = truncateToSeconds(h.clock.now());
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  auto r = h.get(key);
  // The bake counted from the rollout, not from the swap.
  EXPECT_GE(r.status.timeline.back().enteredAt, rolledOut + r.spec.swap.bakeTime);
}

TEST_F(DriverTest, ARolloutThatDoesNotFinishInTimeRollsTheSwapBack) {
  auto key = bootstrap(rotationTemplate(1));
  const auto servedA = h.store.readServed(h.get(key), "a")->value;
  h.store.setRollout("a", {false, "Deployment proxy: 1 of 2 updated replicas are available"});
  h.annotate(key, std::string(api::kRenewAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  auto r = h.get(key);
  EXPECT_THAT(h.events.reasons, Contains("RolloutTimedOut"));
  EXPECT_THAT(r.status.timeline[r.status.timeline.size() - 2].message, HasSubstr("swap.rolloutTimeout (10m)"));
  EXPECT_EQ(h.store.readServed(r, "a")->value, servedA);
}

TEST_F(DriverTest, AdoptionTimeoutBlocksAndAdoptionLaterUnblocks) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minAgents = 1;
  spec.spec.adoption.timeout = std::chrono::hours(2);
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kBlocked, 0, 2000));  // polled every 10 s for 2 h
  auto blocked = h.get(key);
  EXPECT_EQ(blocked.status.resumePhase, Phase::kAwaitingAdoption);
  EXPECT_EQ(api::findCondition(blocked.status, api::kConditionDegraded)->reason, "AdoptionTimeout");
  EXPECT_THAT(h.events.reasons, Contains("Warning:AdoptionTimeout"));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"late", h.clock.now(), {blocked.status.ca.next->fingerprint}, ""}));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, RenewalKeepsTheCaAndChangesOnlyTheServerCertificates) {
  auto key = bootstrap();
  const auto before = h.get(key);
  h.annotate(key, std::string(api::kRenewAnnotation), "x");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  auto r = h.get(key);
  EXPECT_EQ(r.status.ca.current, before.status.ca.current);
  EXPECT_NE(r.status.servers[0].fingerprint, before.status.servers[0].fingerprint);
  EXPECT_THAT(bundleFingerprints(h.store, r), ElementsAre(r.status.ca.current->fingerprint));
  EXPECT_THAT(timelinePhases(r), ElementsAre(Phase::kIssuing, Phase::kReady, Phase::kSwapping, Phase::kVerifying,
                                             Phase::kSwapping, Phase::kVerifying, Phase::kReady));
}

TEST_F(DriverTest, CertificateNearExpiryRenewsByItself) {
  auto spec = rotationTemplate(1);
  spec.spec.certificate.validity = std::chrono::hours(24 * 10);
  spec.spec.certificate.renewBefore = std::chrono::hours(24 * 3);
  auto key = bootstrap(spec);
  const auto first = h.get(key).status.servers[0].fingerprint;
  h.clock.advance(std::chrono::hours(24 * 7) + std::chrono::hours(1));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_EQ(h.get(key).status.timeline.at(2).message.find("within certificate.renewBefore") != std::string::npos, true);
  EXPECT_NE(h.get(key).status.servers[0].fingerprint, first);
}

TEST_F(DriverTest, SwapWaitsForTheMaintenanceWindow) {
  auto spec = rotationTemplate(1);
  // Every day at 02:00 in Paris, for an hour; the fake clock starts at 11:15 Paris time.
  spec.spec.swap.maintenanceWindow = api::MaintenanceWindowSpec{"0 2 * * *", std::chrono::hours(1), "Europe/Paris"};
  auto key = bootstrap(spec);
  h.annotate(key, std::string(api::kRenewAnnotation), "x");
  auto result = h.driver(h.store).reconcile(key);
  ASSERT_OK(result);
  EXPECT_EQ(result->phase, Phase::kSwapping);
  // 2026-11-23T01:00:00Z is 02:00 in Paris (CET).
  EXPECT_EQ(h.clock.now() + result->requeueAfter, std::chrono::system_clock::from_time_t(1795395600));
  EXPECT_THAT(h.get(key).status.message, HasSubstr("2026-11-23T01:00:00Z"));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, FailedProbesRollBackToTheSnapshotByteForByte) {
  auto key = bootstrap();
  auto before = h.get(key);
  const auto servedA = h.store.readServed(before, "a")->value;
  const auto servedB = h.store.readServed(before, "b")->value;
  h.prober.fail("127.0.0.1:9001", failedPrecondition("handshake failure"));
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  auto r = h.get(key);
  EXPECT_EQ(h.store.readServed(r, "a")->value, servedA);
  EXPECT_EQ(h.store.readServed(r, "b")->value, servedB);
  EXPECT_EQ(r.status.ca.current, before.status.ca.current);
  EXPECT_TRUE(r.status.ca.next.has_value()) << "the new CA is kept for another attempt";
  EXPECT_EQ(r.status.rollbackSnapshot, "proxy-r1-swap");
  EXPECT_EQ(api::findCondition(r.status, api::kConditionDegraded)->reason, "ProbeFailed");
  EXPECT_TRUE(servedVerifiesAgainstBundle(h.store, r, h.clock.now()));
  // Once the server is mended, another attempt reuses the staged CA and completes.
  const std::string staged = r.status.ca.next->fingerprint;
  h.prober.heal("127.0.0.1:9001");
  h.annotate(key, std::string(api::kRotateAnnotation), "2");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_EQ(h.get(key).status.ca.current->fingerprint, staged);
  EXPECT_THAT(*h.store.listSnapshots(r), Contains("proxy-r1-retry2-swap"));
}

TEST_F(DriverTest, AFailedReloadRollsBack) {
  auto key = bootstrap();
  h.store.failReloads("b", failedPrecondition("command \"nginx\" exited with status 1"), /*times=*/1);
  h.annotate(key, std::string(api::kRenewAnnotation), "x");
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  EXPECT_EQ(api::findCondition(h.get(key).status, api::kConditionDegraded)->reason, "ReloadFailed");
}

TEST_F(DriverTest, ARollbackWhoseReloadFailsEndsFailed) {
  auto key = bootstrap();
  h.store.failReloads("b", failedPrecondition("command \"nginx\" exited with status 1"));
  h.annotate(key, std::string(api::kRenewAnnotation), "x");
  ASSERT_OK(h.runUntilPhase(key, Phase::kFailed));
  EXPECT_EQ(api::findCondition(h.get(key).status, api::kConditionDegraded)->reason, "RollbackReloadFailed");
}

TEST_F(DriverTest, FailedPrechecksBlockWithTheCheckNameAndChangeNothing) {
  auto key = bootstrap(rotationTemplate(1));
  auto before = h.get(key);
  const auto served = h.store.readServed(before, "a")->value;
  h.editSpec(key, [](api::RotationSpec& s) { s.certificate.dnsNames = {"other.example.com"}; });
  h.annotate(key, std::string(api::kRenewAnnotation), "x");
  auto result = h.driver(h.store).reconcile(key);
  ASSERT_OK(result);
  EXPECT_EQ(result->phase, Phase::kBlocked);
  EXPECT_THAT(result->failedChecks, ElementsAre("dns_names"));
  auto r = h.get(key);
  EXPECT_EQ(api::findCondition(r.status, api::kConditionDegraded)->reason, "PrecheckFailed");
  EXPECT_THAT(r.status.message, HasSubstr("dns_names"));
  EXPECT_EQ(h.store.readServed(r, "a")->value, served);
  // Reverting the spec unblocks it.
  h.editSpec(key, [](api::RotationSpec& s) { s.certificate.dnsNames = {"proxy.example.com"}; });
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

TEST_F(DriverTest, PauseStopsEverythingAndResumeGoesBackToThePhase) {
  auto key = bootstrap(rotationTemplate(1));
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  h.editSpec(key, [](api::RotationSpec& s) { s.paused = true; });
  ASSERT_OK(h.runUntilPhase(key, Phase::kPaused));
  h.clock.advance(std::chrono::hours(5));
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  EXPECT_EQ(h.get(key).status.phase, Phase::kPaused);
  h.editSpec(key, [](api::RotationSpec& s) { s.paused = false; });
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_THAT(timelinePhases(h.get(key)), Contains(Phase::kPaused));
}

TEST_F(DriverTest, RollbackRequestAfterACompletedRotationRestoresTheOldCa) {
  auto key = bootstrap();
  auto first = h.get(key);
  const auto servedA = h.store.readServed(first, "a")->value;
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  const auto rotated = h.get(key);
  h.editSpec(key, [](api::RotationSpec& s) { s.rollbackTo = "proxy-r1-swap"; });
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  auto r = h.get(key);
  EXPECT_EQ(h.store.readServed(r, "a")->value, servedA);
  EXPECT_EQ(r.status.ca.current, first.status.ca.current);
  EXPECT_EQ(r.status.ca.next->fingerprint, rotated.status.ca.current->fingerprint);
  EXPECT_TRUE(servedVerifiesAgainstBundle(h.store, r, h.clock.now()));
  // The request acts once: nothing happens again on the next pass.
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  EXPECT_EQ(h.get(key).status.phase, Phase::kRolledBack);
}

/** Two agents, checked in now, trusting `trusted`. */
void checkIn(RotationHarness& h, const api::ObjectKey& key, const std::vector<std::string>& agent1,
             const std::vector<std::string>& agent2) {
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-1", h.clock.now(), agent1, "1.0"}));
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"agent-2", h.clock.now(), agent2, "1.0"}));
}

class RollbackAfterPruneTest : public DriverTest {
protected:
  /** A rotation to revision 2 whose two agents followed it, the old CA pruned: they trust the new
   *  CA only. Then a rollback to the first swap's snapshot is asked for. */
  void SetUp() override {
    auto spec = rotationTemplate(1);
    spec.spec.adoption.minAgents = 2;
    spec.spec.adoption.staleAfter = std::chrono::hours(48);
    key = bootstrap(spec);
    first = h.get(key);
    oldCa = first.status.ca.current->fingerprint;
    servedBefore = *h.store.readServed(first, "a")->value;
    h.annotate(key, std::string(api::kRotateAnnotation), "1");
    ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
    newCa = h.get(key).status.ca.next->fingerprint;
    checkIn(h, key, {oldCa, newCa}, {oldCa, newCa});
    ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
    checkIn(h, key, {newCa}, {newCa});
    servedRotated = *h.store.readServed(h.get(key), "a")->value;
    h.editSpec(key, [](api::RotationSpec& s) { s.rollbackTo = "proxy-r1-swap"; });
  }

  api::ObjectKey key;
  api::CertificateRotation first;
  std::string oldCa, newCa;
  store::ServedMaterial servedBefore, servedRotated;
};

TEST_F(RollbackAfterPruneTest, StagesThePrunedCaAgainAndRestoresTheServersOnlyOnceClientsTrustIt) {
  // Agents dropped the old CA at the prune: restoring its certificates at once would orphan
  // their clients. The CA goes back into the bundle first, and the gate waits for agent-2.
  auto driver = h.driver(h.store);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(driver.reconcile(key));
    h.clock.advance(std::chrono::minutes(5));
    checkIn(h, key, {oldCa, newCa}, {newCa});
  }
  auto waiting = h.get(key);
  EXPECT_EQ(waiting.status.phase, Phase::kRollingBack);
  EXPECT_EQ(waiting.status.rollbackRestagedCa, oldCa);
  EXPECT_THAT(bundleFingerprints(h.store, waiting), ElementsAre(newCa, oldCa));
  EXPECT_EQ(*h.store.readServed(waiting, "a")->value, servedRotated) << "restored before clients trust its CA";
  EXPECT_THAT(waiting.status.adoption.laggards, ElementsAre("agent-2"));
  EXPECT_THAT(waiting.status.message, HasSubstr("1/2 active agents trust the CA being restored"));

  checkIn(h, key, {oldCa, newCa}, {newCa, oldCa});
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  auto r = h.get(key);
  EXPECT_EQ(*h.store.readServed(r, "a")->value, servedBefore);
  // The bundle is the snapshot's, byte for byte (order included).
  EXPECT_EQ(*h.store.readBundle(r)->value, h.store.getSnapshot(r, "proxy-r1-swap")->bundlePem);
  EXPECT_EQ(r.status.ca.current->fingerprint, oldCa);
  EXPECT_EQ(r.status.rollbackRestagedCa, "");
  EXPECT_THAT(h.events.reasons, ::testing::Not(Contains("Warning:AdoptionSkipped")));
}

TEST_F(RollbackAfterPruneTest, RestoresAtOnceWhenTheOperatorSkipsAdoptionAndSaysWhatItRisks) {
  auto driver = h.driver(h.store);
  ASSERT_OK(driver.reconcile(key));
  ASSERT_EQ(h.get(key).status.phase, Phase::kRollingBack);
  h.annotate(key, std::string(api::kRollbackSkipAdoptionAnnotation), "proxy-r1-swap");
  ASSERT_OK(driver.reconcile(key));
  auto r = h.get(key);
  EXPECT_EQ(r.status.phase, Phase::kRolledBack);
  EXPECT_EQ(*h.store.readServed(r, "a")->value, servedBefore);
  EXPECT_THAT(r.status.message, HasSubstr("0/2 active agents trusted its CA again"));
  EXPECT_THAT(h.events.reasons, Contains("Warning:AdoptionSkipped"));
}

TEST_F(RollbackAfterPruneTest, AnAdoptionTimeoutBlocksTheRollbackWithTheServersUntouched) {
  h.editSpec(key, [](api::RotationSpec& s) { s.adoption.timeout = std::chrono::hours(1); });
  ASSERT_OK(h.runUntilPhase(key, Phase::kBlocked));
  auto blocked = h.get(key);
  EXPECT_EQ(blocked.status.resumePhase, Phase::kRollingBack);
  EXPECT_THAT(blocked.status.message, HasSubstr("the rollback waits for clients"));
  EXPECT_EQ(*h.store.readServed(blocked, "a")->value, servedRotated);
  // The agents catch up: the blocked rollback goes on by itself.
  checkIn(h, key, {oldCa, newCa}, {oldCa, newCa});
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  EXPECT_EQ(*h.store.readServed(h.get(key), "a")->value, servedBefore);
}

TEST_F(DriverTest, RollbackToAMissingSnapshotIsRefusedAndChangesNothing) {
  auto key = bootstrap();
  const auto servedA = h.store.readServed(h.get(key), "a")->value;
  h.editSpec(key, [](api::RotationSpec& s) { s.rollbackTo = "no-such-snapshot"; });
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  auto r = h.get(key);
  EXPECT_EQ(r.status.phase, Phase::kReady);
  EXPECT_THAT(r.status.message, HasSubstr("no-such-snapshot"));
  EXPECT_THAT(h.events.reasons, Contains("Warning:RollbackRefused"));
  EXPECT_EQ(h.store.readServed(r, "a")->value, servedA);
}

TEST_F(DriverTest, ARollbackThatCouldNotFinishIsRefusedBeforeItsFirstWrite) {
  // As after a rotation was deleted and created again under its name: its old snapshots hold
  // certificates from a CA the new rotation never held.
  auto key = bootstrap();
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  const auto r = h.get(key);
  auto stored = h.store.readAuthorities(r).value();
  const auto stranger = rotor::testing::makeCa("Another rotation's CA");
  const store::AuthorityMaterial material{stranger.certificate().toPem(), stranger.key().toPem()};
  ASSERT_OK(h.store.writeAuthorities(r, {material, std::nullopt, std::nullopt}, stored.version));
  const auto bundle = h.store.readBundle(r)->value;
  const auto servedA = h.store.readServed(r, "a")->value;
  const size_t reloads = h.store.reloads().size();

  h.editSpec(key, [](api::RotationSpec& s) { s.rollbackTo = "proxy-r1-swap"; });
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  auto after = h.get(key);
  EXPECT_EQ(after.status.phase, Phase::kReady);
  EXPECT_THAT(after.status.message, HasSubstr("no longer holds"));
  EXPECT_THAT(h.events.reasons, Contains("Warning:RollbackRefused"));
  EXPECT_EQ(h.store.readBundle(r)->value, bundle);
  EXPECT_EQ(h.store.readServed(r, "a")->value, servedA);
  EXPECT_EQ(h.store.reloads().size(), reloads);
}

TEST_F(DriverTest, CrossSignedChainsVerifyForClientsThatTrustOnlyTheOldCa) {
  auto spec = rotationTemplate(1);
  spec.spec.ca.crossSign = true;
  auto key = bootstrap(spec);
  const auto oldBundle = pki::parsePemBundle(*h.store.readBundle(h.get(key))->value).value();
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kDraining));
  auto r = h.get(key);
  auto chain = pki::parsePemBundle(h.store.readServed(r, "a")->value->certificateChainPem).value();
  ASSERT_EQ(chain.size(), 2u);
  std::vector<pki::Certificate> intermediates(chain.begin() + 1, chain.end());
  EXPECT_OK(pki::verifyChain(chain.front(), intermediates, oldBundle, h.clock.now())) << "old-CA-only client";
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  const auto newBundle = pki::parsePemBundle(*h.store.readBundle(r)->value).value();
  EXPECT_OK(pki::verifyChain(chain.front(), intermediates, newBundle, h.clock.now())) << "new-CA-only client";
}

/** One server whose CA the operator imports from ca/v1.crt and ca/v1.key. */
api::CertificateRotation importedCaRotation() {
  auto spec = rotationTemplate(1);
  spec.spec.ca.generate.reset();
  spec.spec.ca.files = api::CaFilesSpec{"ca/v1.crt", "ca/v1.key"};
  return spec;
}

TEST_F(DriverTest, ACaRenewalOfAnImportedCaIsRefusedBeforeAnythingIsWritten) {
  auto r = h.create(importedCaRotation());
  auto v1 = rotor::testing::makeCa("Imported CA v1");
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  const auto before = h.get(r.key());
  const auto bundle = h.store.readBundle(before)->value;
  h.annotate(r.key(), std::string(api::kRenewCaAnnotation), "1");
  ASSERT_OK(h.driver(h.store).reconcile(r.key()));
  auto after = h.get(r.key());
  EXPECT_EQ(after.status.phase, Phase::kReady);
  EXPECT_EQ(after.status.ca.current, before.status.ca.current);
  EXPECT_EQ(h.store.readBundle(after)->value, bundle);
  EXPECT_TRUE(h.store.listSnapshots(after)->empty());
  EXPECT_THAT(after.status.message, HasSubstr("the CA is imported (spec.ca.files)"));
  EXPECT_THAT(h.events.reasons, Contains("Warning:CaRenewalRefused"));
  // Consumed: the next pass does not refuse again.
  ASSERT_OK(h.driver(h.store).reconcile(r.key()));
  EXPECT_EQ(std::count(h.events.reasons.begin(), h.events.reasons.end(), "Warning:CaRenewalRefused"), 1);
}

TEST_F(DriverTest, ImportedCaFilesBootstrapAndAChangedSourceRotates) {
  auto r = h.create(importedCaRotation());
  auto v1 = rotor::testing::makeCa("Imported CA v1");
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  EXPECT_EQ(h.get(r.key()).status.ca.current->fingerprint, v1.certificate().fingerprint().toString());
  auto v2 = rotor::testing::makeCa("Imported CA v2");
  h.store.setCustomAuthority(r.key(), {v2.certificate().toPem(), v2.key().toPem()});
  h.editSpec(r.key(), [](api::RotationSpec& s) { s.ca.files = api::CaFilesSpec{"ca/v2.crt", "ca/v2.key"}; });
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 2));
  auto done = h.get(r.key());
  EXPECT_EQ(done.status.ca.current->fingerprint, v2.certificate().fingerprint().toString());
  EXPECT_EQ(done.status.timeline.at(2).message.substr(0, 15), "spec.ca changed");
}

TEST_F(DriverTest, AHashAnOlderRotorRecordedNeverStartsARotationAndIsReplaced) {
  // An upgrade must not rotate every CA: the hash an older rotor took over its wire JSON is not
  // comparable with this one's. It is re-recorded at rest; the next real change still rotates.
  auto r = h.create(rotationTemplate(1));
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  auto stored = h.get(r.key());
  ASSERT_TRUE(isCurrentCaSourceHash(stored.status.caSourceHash)) << stored.status.caSourceHash;
  stored.status.caSourceHash = "sha256:" + std::string(64, 'a');  // as 0.1.0 wrote it
  ASSERT_OK(h.store.updateRotationStatus(stored));
  for (int i = 0; i < 5; ++i) ASSERT_OK(h.driver(h.store).reconcile(r.key()).status());
  auto after = h.get(r.key());
  EXPECT_EQ(after.status.revision, 1);
  EXPECT_EQ(after.status.phase, Phase::kReady);
  EXPECT_EQ(after.status.caSourceHash, caSourceHash(after.spec.ca));
  h.editSpec(r.key(), [](api::RotationSpec& s) { s.ca.generate->commonName = "Edge Proxy CA 2"; });
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 2));
  const auto timeline = h.get(r.key()).status.timeline;
  EXPECT_TRUE(std::any_of(timeline.begin(), timeline.end(),
                          [](const auto& e) { return e.message.starts_with("spec.ca changed"); }));
}

TEST(CaSourceTest, TheCanonicalTextAndItsHashArePinned) {
  // Golden values: a change here changes every stored hash. Bump api::kCaSourceVersion instead.
  api::CaSpec generated;
  generated.generate =
      api::CaGenerateSpec{"Edge Proxy CA", std::chrono::hours(24 * 365 * 5), {KeyAlgorithm::kEcdsa, 256}};
  EXPECT_EQ(api::canonicalCaSource(generated),
            "rotor.dev/ca-source v1\n"
            "generate.commonName=13:Edge Proxy CA\n"
            "generate.validitySeconds=9:157680000\n"
            "generate.privateKey.algorithm=5:ECDSA\n"
            "generate.privateKey.size=3:256\n");
  EXPECT_EQ(caSourceHash(generated), "v1:sha256:d02ea92e5971ce81e5b54b187346c7f1b9d264b28116912a5c3d196090ca3f13");
  api::CaSpec imported;
  imported.files = api::CaFilesSpec{"ca/v1.crt", "ca/v1.key"};
  EXPECT_EQ(caSourceHash(imported), "v1:sha256:aa9767f9f7f000392a4ffef16a43038dc64f355ee041582f1ef77183331a0a23");
  api::CaSpec referenced;
  referenced.secretRef = api::CaSecretRef{"edge-ca"};
  EXPECT_EQ(caSourceHash(referenced), "v1:sha256:f375b8ddb5afe0f4a626ba420e8f36649540462ae82854f8de16584cbb07b1cb");
  // Policy is not the source: neither changes the hash; a source field does.
  api::CaSpec policy = generated;
  policy.rotateBefore = std::chrono::hours(1);
  policy.crossSign = true;
  EXPECT_EQ(caSourceHash(policy), caSourceHash(generated));
  policy.generate->privateKey.size = 384;
  EXPECT_NE(caSourceHash(policy), caSourceHash(generated));
}

TEST_F(DriverTest, AnImportedCaThatDoesNotParseIsNamedByFieldAndFile) {
  // "invalid PEM certificate: no start line" named neither the file nor the field.
  auto r = h.create(importedCaRotation());
  auto v1 = rotor::testing::makeCa("Imported CA v1");
  h.store.setCustomAuthority(r.key(), {"not a certificate", v1.key().toPem()});
  auto driver = h.driver(h.store);
  ASSERT_OK(driver.reconcile(r.key()));
  EXPECT_THAT(h.get(r.key()).status.message, HasSubstr("spec.ca.files.certFile \"ca/v1.crt\": "));
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), "not a key"});
  ASSERT_OK(driver.reconcile(r.key()));
  const auto waiting = h.get(r.key());
  EXPECT_EQ(waiting.status.phase, Phase::kIssuing);
  EXPECT_THAT(waiting.status.message, HasSubstr("spec.ca.files.keyFile \"ca/v1.key\": "));
  expectRefused(waiting.status, "CANotReady");  // until the operator fixes the file
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  EXPECT_EQ(api::findCondition(h.get(r.key()).status, api::kConditionDegraded)->status, "False");
}

TEST_F(DriverTest, AnExpiredImportedCaIsRefusedBeforeAnyBundleOrFileIsWritten) {
  // Staged into the bundle and the truststore before, then the swap looped on "Could not reconcile".
  auto r = h.create(importedCaRotation());
  auto v1 = rotor::testing::makeCa("Imported CA v1");
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  const auto ready = h.get(r.key());
  const auto bundle = h.store.readBundle(ready)->value;
  const auto served = h.store.readServed(ready, "a")->value;
  const auto authorities = h.store.readAuthorities(ready)->value;
  auto expired = rotor::testing::makeCa("Imported CA 2020", std::chrono::hours(24 * 365), {},
                                        h.clock.now() - std::chrono::hours(24 * 365 * 5));
  h.store.setCustomAuthority(r.key(), {expired.certificate().toPem(), expired.key().toPem()});
  h.editSpec(r.key(), [](api::RotationSpec& s) { s.ca.files = api::CaFilesSpec{"ca/v2.crt", "ca/v2.key"}; });
  auto driver = h.driver(h.store);
  auto result = driver.reconcile(r.key());  // Ready notices the changed source and starts a rotation
  for (int i = 0; i < 5 && result.ok() && result->phase != Phase::kBlocked; ++i) result = driver.reconcile(r.key());
  ASSERT_OK(result);
  EXPECT_EQ(result->phase, Phase::kBlocked);
  EXPECT_THAT(result->failedChecks, ElementsAre("ca_expired"));
  const auto blocked = h.get(r.key());
  EXPECT_THAT(blocked.status.message, HasSubstr("spec.ca.files.certFile \"ca/v2.crt\" is refused: ca_expired: CA "));
  expectRefused(blocked.status, "CANotStaged");
  EXPECT_EQ(h.store.readBundle(blocked)->value, bundle);
  EXPECT_EQ(h.store.readServed(blocked, "a")->value, served);
  EXPECT_EQ(h.store.readAuthorities(blocked)->value, authorities);
}

TEST_F(DriverTest, AnImportedCaThatIsNoCaBlocksTheBootstrapNamingTheChecks) {
  auto r = h.create(importedCaRotation());
  auto ca = rotor::testing::makeCa("Imported CA v1");
  auto leaf = rotor::testing::issueLeaf(ca, rotor::testing::leafSpec(), h.clock.now());
  h.store.setCustomAuthority(r.key(), {leaf.certificate.toPem(), ca.key().toPem()});
  auto result = h.driver(h.store).reconcile(r.key());
  for (int i = 0; i < 3 && result.ok() && result->failedChecks.empty(); ++i)
    result = h.driver(h.store).reconcile(r.key());
  ASSERT_OK(result);
  EXPECT_THAT(result->failedChecks, ElementsAre("ca_basic_constraints", "ca_key_usage", "key_matches"));
  const auto waiting = h.get(r.key());
  EXPECT_EQ(waiting.status.phase, Phase::kIssuing);
  EXPECT_THAT(waiting.status.message, HasSubstr("spec.ca.files (\"ca/v1.crt\", \"ca/v1.key\") is refused: "));
  expectRefused(waiting.status, "CANotReady");
  EXPECT_FALSE(h.store.readBundle(waiting)->value.has_value());
}

TEST_F(DriverTest, ReturningSpecCaToTheCurrentCaCancelsARefusedImport) {
  // Before, only `rotor delete` got out: Blocked "the custom CA source still holds the current CA".
  auto r = h.create(importedCaRotation());
  auto v1 = rotor::testing::makeCa("Imported CA v1");
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  const auto bundle = h.store.readBundle(h.get(r.key()))->value;
  auto expired = rotor::testing::makeCa("Imported CA 2020", std::chrono::hours(24), {},
                                        h.clock.now() - std::chrono::hours(24 * 400));
  h.store.setCustomAuthority(r.key(), {expired.certificate().toPem(), expired.key().toPem()});
  h.editSpec(r.key(), [](api::RotationSpec& s) { s.ca.files = api::CaFilesSpec{"ca/v2.crt", "ca/v2.key"}; });
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kBlocked));
  // The operator re-applies the original manifest.
  h.store.setCustomAuthority(r.key(), {v1.certificate().toPem(), v1.key().toPem()});
  h.editSpec(r.key(), [](api::RotationSpec& s) { s.ca.files = api::CaFilesSpec{"ca/v1.crt", "ca/v1.key"}; });
  ASSERT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
  auto back = h.get(r.key());
  EXPECT_THAT(h.events.reasons, Contains("Cancelled"));
  EXPECT_TRUE(std::any_of(back.status.timeline.begin(), back.status.timeline.end(), [](const api::PhaseEntry& e) {
    return e.message.starts_with("spec.ca names the current CA again");
  }));
  EXPECT_EQ(api::findCondition(back.status, api::kConditionDegraded)->status, "False");
  EXPECT_EQ(h.store.readBundle(back)->value, bundle);
  // At rest it stays: the original source is not a change.
  for (int i = 0; i < 3; ++i) ASSERT_OK(h.driver(h.store).reconcile(r.key()).status());
  EXPECT_EQ(h.get(r.key()).status.phase, Phase::kReady);
  EXPECT_EQ(h.get(r.key()).status.revision, 1);
}

TEST_F(DriverTest, ARotationAwaitingAdoptionIsAbandonedOnRequestAndTheBundleIsAsBefore) {
  auto spec = rotationTemplate(1);
  spec.spec.adoption.minAgents = 1;
  auto key = bootstrap(spec);
  const auto bundleBefore = h.store.readBundle(h.get(key))->value;
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  ASSERT_NE(h.store.readBundle(h.get(key))->value, bundleBefore);
  h.annotate(key, std::string(api::kAbandonAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 1));
  const auto abandoned = h.get(key);
  EXPECT_THAT(h.events.reasons, Contains("Abandoned"));
  EXPECT_EQ(api::findCondition(abandoned.status, api::kConditionAdoptionComplete)->status, "True");
  EXPECT_FALSE(abandoned.status.ca.next.has_value());
  EXPECT_FALSE(h.store.readAuthorities(abandoned)->value.next.has_value());
  EXPECT_EQ(h.store.readBundle(abandoned)->value, bundleBefore);
  EXPECT_THAT(*h.store.listSnapshots(abandoned), Contains(HasSubstr("-abandon")));
  // A later attempt at the same revision starts afresh with a new CA, and its snapshots have
  // names of their own: a second abandon takes its own snapshot.
  h.annotate(key, std::string(api::kRotateAnnotation), "2");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  h.annotate(key, std::string(api::kAbandonAnnotation), "2");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 1));
  EXPECT_THAT(*h.store.listSnapshots(h.get(key)), Contains("proxy-r1-retry2-abandon"));
  EXPECT_EQ(h.store.readBundle(h.get(key))->value, bundleBefore);
}

TEST_F(DriverTest, ARotationThatSwappedIsNotAbandonedAndSaysToRollBack) {
  auto key = bootstrap(rotationTemplate(1));
  h.annotate(key, std::string(api::kRenewAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kVerifying));
  h.annotate(key, std::string(api::kAbandonAnnotation), "1");
  ASSERT_OK(h.driver(h.store).reconcile(key).status());
  const auto refused = h.get(key);
  EXPECT_EQ(refused.status.handled.abandon, "1");
  EXPECT_THAT(refused.status.message, HasSubstr("Cannot abandon the rotation: it is Verifying"));
  EXPECT_THAT(refused.status.message, HasSubstr("roll back instead: rotor rollback proxy"));
  EXPECT_THAT(h.events.reasons, Contains("Warning:AbandonRefused"));
}

TEST_F(DriverTest, OldCaIsPrunedOnlyAfterItExpiresWithWaitForExpiry) {
  auto spec = rotationTemplate(1);
  spec.spec.ca.generate->validity = std::chrono::hours(24 * 40);
  spec.spec.ca.rotateBefore = std::chrono::hours(24 * 20);
  spec.spec.certificate.validity = std::chrono::hours(24 * 30);
  spec.spec.certificate.renewBefore = std::chrono::hours(24 * 5);
  spec.spec.prune.waitForExpiry = true;
  auto key = bootstrap(spec);
  const SystemTime oldExpiry = *h.get(key).status.ca.current->notAfter;
  h.clock.advance(std::chrono::hours(24 * 21));  // inside rotateBefore: the CA rotation starts by itself
  ASSERT_OK(h.runUntilPhase(key, Phase::kDraining));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_GE(h.clock.now(), oldExpiry);
  EXPECT_EQ(h.get(key).status.timeline.at(2).message.find("CA expires"), 0u);
}

}  // namespace
}  // namespace rotor::reconcilers
