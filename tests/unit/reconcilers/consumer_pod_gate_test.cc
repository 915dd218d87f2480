// Agentless adoption through the phases: the gate counts consumer pods beside agents, and the
// restart policy restarts lagging workloads a few at a time, waiting for each rollout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/store/forwarding_store.h"
#include "reconcilers/consumer_pods.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

using api::Phase;
using rotor::testing::RotationHarness;
using rotor::testing::rotationTemplate;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

/** Deployments whose pods read the bundle at start, as a cluster would run them: a restart
 *  rolls out after `rolloutPolls` looks and leaves every pod of the workload started then. */
class PodStore final : public store::ForwardingStore {
public:
  PodStore(store::Store& inner, const Clock& clock) : ForwardingStore(inner), clock_(clock) {}

  StatusOr<store::PodTally> tallyConsumerPods(const api::CertificateRotation&, const store::PodQuery& q) override {
    lastQuery = q;
    store::PodTally tally;
    for (const auto& [name, starts] : pods) {
      api::WorkloadAdoption w{{"Deployment", "shop", name}, 0, 0};
      for (const SystemTime started : starts) {
        ++w.pods;
        if (q.bundleSince && started >= *q.bundleSince) ++w.adopted;
      }
      tally.running += w.pods;
      tally.adopted += w.adopted;
      tally.workloads.push_back(w);
    }
    std::stable_sort(tally.workloads.begin(), tally.workloads.end(),
                     [](const auto& a, const auto& b) { return a.pods - a.adopted > b.pods - b.adopted; });
    for (const std::string& name : reporting) tally.reporting.insert({"Deployment", "shop", name});
    for (const std::string& name : cachedReaders) tally.cachedReaders.insert({"Deployment", "shop", name});
    return tally;
  }
  Status restartWorkload(const api::CertificateRotation&, const api::WorkloadRef& w) override {
    restarts.push_back(w.name);
    restartedAt.push_back(clock_.now());
    rollingOut[w.name] = rolloutPolls;
    if (recreate) pods[w.name].clear();  // the old pods go before the new ones run
    return okStatus();
  }
  StatusOr<api::Rollout> workloadRollout(const api::CertificateRotation&, const api::WorkloadRef& w) override {
    int& left = rollingOut.at(w.name);
    if (left > 0 && --left > 0) return api::Rollout{false, "rolling"};
    pods[w.name].assign(replicas.at(w.name), clock_.now());
    return api::Rollout{};
  }
  /** A workload that restarts on its own (a client that watches its bundle and exits). */
  void restartsItself(const std::string& name) {
    for (SystemTime& started : pods.at(name)) started = clock_.now() + std::chrono::seconds(1);
  }

  std::map<std::string, std::vector<SystemTime>> pods;
  std::map<std::string, size_t> replicas;
  bool recreate = false;  // a rollout with the Recreate strategy
  std::vector<std::string> restarts;
  std::vector<SystemTime> restartedAt;
  std::set<std::string> reporting;      // workloads whose pods carry a bundle digest
  std::set<std::string> cachedReaders;  // workloads reading a signer's ClusterTrustBundle by name
  std::map<std::string, int> rollingOut;
  int rolloutPolls = 3;
  std::optional<store::PodQuery> lastQuery;

private:
  const Clock& clock_;
};

class ConsumerPodGateTest : public ::testing::Test {
protected:
  RotationHarness h;
  PodStore podStore{h.store, h.clock};

  api::ObjectKey stagedRotation(bool restart) {
    auto spec = rotationTemplate(1);
    spec.spec.adoption.pods = api::ConsumerPodsSpec{.restartWorkloads = restart, .maxConcurrentRestarts = 1};
    const SystemTime before = h.clock.now() - std::chrono::hours(1);
    podStore.pods = {{"web", {before, before}}, {"api", {before}}, {"self", {before}}};
    for (const auto& [name, started] : podStore.pods) podStore.replicas[name] = started.size();
    auto key = h.create(spec).key();
    EXPECT_OK(reach(key, Phase::kReady));
    h.annotate(key, std::string(api::kRotateAnnotation), "1");
    EXPECT_OK(reach(key, Phase::kAwaitingAdoption));
    return key;
  }
  Status reach(const api::ObjectKey& key, Phase phase, int rounds = 400) {
    return h.runUntil(
        key, [&](const api::CertificateRotation& r) { return r.status.phase == phase; }, rounds, &podStore);
  }
  /** Through the gate: the swap has begun (or gone further). */
  Status passGate(const api::ObjectKey& key, int rounds) {
    return h.runUntil(
        key,
        [&](const api::CertificateRotation& r) {
          return r.status.phase != Phase::kAwaitingAdoption && r.status.phase != Phase::kPaused;
        },
        rounds, &podStore);
  }
  void reconcile(const api::ObjectKey& key, int times) {
    for (int i = 0; i < times; ++i) {
      auto result = h.driver(podStore).reconcile(key);
      ASSERT_OK(result);
      h.clock.advance(std::max<Duration>(result->requeueAfter, std::chrono::seconds(1)));
    }
  }
};

TEST_F(ConsumerPodGateTest, MeasuringOnlyTheGateHoldsUntilEveryConsumerPodStartedWithTheNewBundle) {
  const auto key = stagedRotation(false);
  reconcile(key, 10);
  auto r = h.get(key);
  EXPECT_EQ(r.status.phase, Phase::kAwaitingAdoption);
  EXPECT_THAT(r.status.message,
              HasSubstr("0/4 active clients (agents and consumer pods) trust the new CA, 100% required"));
  ASSERT_TRUE(r.status.pods.has_value());
  EXPECT_EQ(r.status.pods->ca, r.status.ca.next->fingerprint);
  EXPECT_EQ(r.status.pods->running, 4);
  EXPECT_EQ(r.status.pods->workloads.front().workload.name, "web") << "the workload with the most laggards first";
  EXPECT_TRUE(podStore.restarts.empty()) << "measure only";
  ASSERT_TRUE(podStore.lastQuery && podStore.lastQuery->bundleSince);
  EXPECT_EQ(podStore.lastQuery->bundleSince, r.status.pods->bundleSince);
  EXPECT_EQ(podStore.lastQuery->bundleDigest.substr(0, 7), "sha256:");

  podStore.restartsItself("self");
  podStore.restartsItself("web");
  reconcile(key, 3);
  r = h.get(key);
  EXPECT_EQ(r.status.pods->adopted, 3);
  EXPECT_THAT(r.status.message, HasSubstr("3/4 active clients"));
  EXPECT_EQ(r.status.pods->workloads.front().workload.name, "api");
  podStore.restartsItself("api");
  ASSERT_OK(passGate(key, 5));
  ASSERT_OK(reach(key, Phase::kReady));
  EXPECT_EQ(h.get(key).status.revision, 2);
  // As for agents, the last measurement stays until the next rotation starts.
  EXPECT_EQ(h.get(key).status.pods->adopted, 4);
}

TEST_F(ConsumerPodGateTest, TheRestartPolicyRestartsLaggingWorkloadsOneAtATimeAndNeverTwice) {
  podStore.rolloutPolls = 3;
  const auto key = stagedRotation(true);
  podStore.restartsItself("self");
  auto r = h.get(key);
  EXPECT_THAT(podStore.restarts, ElementsAre("web")) << "the most laggards first, one at a time";
  EXPECT_EQ(r.status.pods->restarting, (std::vector<api::WorkloadRef>{{"Deployment", "shop", "web"}}));
  reconcile(key, 1);
  EXPECT_THAT(podStore.restarts, ElementsAre("web")) << "the next waits for the rollout";
  ASSERT_OK(passGate(key, 20));
  EXPECT_THAT(podStore.restarts, ElementsAre("web", "api"));
  r = h.get(key);
  EXPECT_TRUE(r.status.pods->restarting.empty());
  EXPECT_EQ(r.status.pods->restarted.size(), 2u);
  EXPECT_EQ(std::count(h.events.reasons.begin(), h.events.reasons.end(), "WorkloadRestarted"), 2);
}

TEST_F(ConsumerPodGateTest, RestartsWaitForTheSecondFromWhichNewPodsCount) {
  // Pods count when the kubelet took them at or after bundleSince, a whole second past the
  // measurement: a restart before it could make pods that never count.
  const auto key = stagedRotation(true);
  reconcile(key, 2);
  ASSERT_FALSE(podStore.restartedAt.empty());
  EXPECT_GE(podStore.restartedAt.front(), *h.get(key).status.pods->bundleSince);
}

TEST_F(ConsumerPodGateTest, AWorkloadThatReportsItsBundleIsGivenTheKubeletsDelayBeforeARestart) {
  podStore.reporting = {"web"};
  const auto key = stagedRotation(true);
  const SystemTime graceEnds = *h.get(key).status.pods->bundleSince + kReporterGrace;
  while (h.clock.now() < graceEnds - std::chrono::seconds(10)) reconcile(key, 1);
  EXPECT_THAT(podStore.restarts, ElementsAre("api", "self")) << "web reports what it reloads: left to the kubelet";
  ASSERT_OK(h.runUntil(
      key, [&](const api::CertificateRotation&) { return podStore.restarts.size() == 3; }, 400, &podStore));
  EXPECT_EQ(podStore.restarts.back(), "web") << "it never reported the new bundle";
  EXPECT_GE(podStore.restartedAt.back(), *h.get(key).status.pods->bundleSince + kReporterGrace);
}

TEST_F(ConsumerPodGateTest, AWorkloadReadingThroughTheKubeletsCacheIsRestartedOnceTheCacheExpired) {
  podStore.cachedReaders = {"web"};
  const auto key = stagedRotation(true);
  const SystemTime expired = *h.get(key).status.pods->bundleSince + store::kKubeletTrustBundleCache;
  while (h.clock.now() < expired - std::chrono::seconds(10)) reconcile(key, 1);
  EXPECT_THAT(podStore.restarts, ElementsAre("api", "self")) << "web's restart would read the cached old bundle";
  ASSERT_OK(h.runUntil(
      key, [&](const api::CertificateRotation&) { return podStore.restarts.size() == 3; }, 400, &podStore));
  EXPECT_EQ(podStore.restarts.back(), "web");
  EXPECT_GT(podStore.restartedAt.back(), expired);
}

TEST_F(ConsumerPodGateTest, AWorkloadWithoutRunningPodsMidRolloutDoesNotOpenTheGate) {
  podStore.recreate = true;
  podStore.rolloutPolls = 5;
  const auto key = stagedRotation(true);
  ASSERT_THAT(podStore.restarts, ElementsAre("web"));
  podStore.restartsItself("api");
  podStore.restartsItself("self");
  reconcile(key, 2);
  auto r = h.get(key);
  EXPECT_EQ(r.status.pods->running, 2) << "web's pods are gone for the moment";
  EXPECT_EQ(r.status.pods->adopted, 2);
  EXPECT_EQ(r.status.phase, Phase::kAwaitingAdoption) << "every running pod adopted, but web still rolls out";
  EXPECT_THAT(r.status.message, HasSubstr("Waiting for 1 restarted workloads to roll out: Deployment shop/web"));
  ASSERT_OK(passGate(key, 20));
  EXPECT_EQ(h.get(key).status.pods->running, 4);
}

TEST_F(ConsumerPodGateTest, ARestartThatNeverRollsOutStillMeetsTheTimeout) {
  podStore.rolloutPolls = 1000000;  // stuck
  auto key = stagedRotation(true);
  h.editSpec(key, [](api::RotationSpec& s) { s.adoption.timeout = std::chrono::hours(1); });
  reconcile(key, 3);
  EXPECT_THAT(h.get(key).status.message, HasSubstr("Waiting for 1 restarted workloads to roll out"));
  h.clock.advance(std::chrono::hours(2));
  reconcile(key, 1);
  EXPECT_EQ(h.get(key).status.phase, Phase::kBlocked) << h.get(key).status.message;
  EXPECT_THAT(h.get(key).status.message, HasSubstr("adoption.timeout passed"));
}

TEST_F(ConsumerPodGateTest, AnApprovalOpensAGateHeldByARestart) {
  podStore.rolloutPolls = 1000000;
  auto key = stagedRotation(true);
  reconcile(key, 2);
  h.annotate(key, std::string(api::kApproveAnnotation), "ok");
  ASSERT_OK(passGate(key, 3));
  EXPECT_EQ(h.get(key).status.handled.approve, "ok");
  const auto timeline = h.get(key).status.timeline;
  const auto swapped = std::find_if(timeline.begin(), timeline.end(),
                                    [](const api::PhaseEntry& e) { return e.phase == Phase::kSwapping; });
  ASSERT_NE(swapped, timeline.end());
  EXPECT_THAT(swapped->message, HasSubstr("Approved"));
}

TEST_F(ConsumerPodGateTest, APausedRotationRestartsNothingMore) {
  const auto key = stagedRotation(true);
  ASSERT_THAT(podStore.restarts, ElementsAre("web"));
  h.editSpec(key, [](api::RotationSpec& s) { s.paused = true; });
  reconcile(key, 10);
  EXPECT_EQ(h.get(key).status.phase, Phase::kPaused);
  EXPECT_THAT(podStore.restarts, ElementsAre("web"));
  h.editSpec(key, [](api::RotationSpec& s) { s.paused = false; });
  ASSERT_OK(passGate(key, 20));
  EXPECT_THAT(podStore.restarts, ElementsAre("web", "api", "self"));
}

TEST(ClientTallyTest, AgentsAndConsumerPodsAddUp) {
  api::RotationStatus s;
  s.adoption = {.active = 2, .adopted = 1};
  EXPECT_EQ(api::clientTally(s).active, 2);
  s.pods = api::PodAdoptionStatus{.running = 3, .adopted = 3};
  const api::AdoptionStatus both = api::clientTally(s);
  EXPECT_EQ(both.active, 5);
  EXPECT_EQ(both.adopted, 4);
  EXPECT_DOUBLE_EQ(both.ratio, 0.8);
}

}  // namespace
}  // namespace rotor::reconcilers
