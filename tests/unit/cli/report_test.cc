// `rotor status` as a person reads it: the gates a rotation in flight still has ahead.
#include "controller/cli/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "reconcilers/triggers.h"
#include "tests/support/pki_fixtures.h"

namespace rotor::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

api::CertificateRotation rotationIn(api::Phase phase, std::string_view trigger) {
  api::CertificateRotation r;
  r.metadata.name = "edge-proxy";
  r.status.phase = phase;
  r.status.trigger = std::string(trigger);
  r.status.phaseStartedAt = rotor::testing::fixtureNow();
  r.status.revision = 1;
  return r;
}

TEST(StatusReportTest, ARenewalShowsNoPruneGateItNeverReaches) {
  const auto renewal = rotationIn(api::Phase::kSwapping, reconcilers::triggers::kRenewRequested);
  const std::string report = formatStatusReport(renewal, {}, rotor::testing::fixtureNow());
  EXPECT_THAT(report, HasSubstr("none: a renewal keeps the CA, so no CA leaves the bundle"));
  EXPECT_THAT(report, Not(HasSubstr("of draining")));
  const auto rotation = rotationIn(api::Phase::kSwapping, reconcilers::triggers::kRotateRequested);
  EXPECT_THAT(formatStatusReport(rotation, {}, rotor::testing::fixtureNow()), HasSubstr("of draining"));
}

/** The report's last line. */
std::string nextStepOf(const api::CertificateRotation& r) {
  const std::string report = formatStatusReport(r, {}, rotor::testing::fixtureNow());
  const auto at = report.rfind("Next step:");
  return at == std::string::npos ? "" : report.substr(at);
}

TEST(StatusReportTest, EndsWithTheNextStepAPersonCanTakeAndItsCommand) {
  auto waiting = rotationIn(api::Phase::kAwaitingAdoption, reconcilers::triggers::kRotateRequested);
  waiting.status.adoption = {3, 2, 0, 2.0 / 3, {"agent-3"}};
  EXPECT_THAT(nextStepOf(waiting),
              HasSubstr("wait for the agents (laggards above), or swap now: rotor approve edge-proxy"));
  waiting.spec.adoption.mode = api::AdoptionMode::kManual;
  EXPECT_THAT(nextStepOf(waiting),
              HasSubstr("check that your clients trust the new CA, then: rotor approve edge-proxy"));
  const std::string report = formatStatusReport(waiting, {}, rotor::testing::fixtureNow());
  EXPECT_THAT(report, HasSubstr("WAITING: Waiting for approval (rotor approve); measured: Waiting for adoption: 2/3"));

  auto restaging = rotationIn(api::Phase::kRollingBack, "");
  restaging.status.rollbackRestagedCa = "sha256:" + std::string(64, 'a');
  EXPECT_THAT(nextStepOf(restaging), HasSubstr("rotor rollback edge-proxy --skip-adoption"));
  EXPECT_THAT(formatStatusReport(restaging, {}, rotor::testing::fixtureNow()),
              HasSubstr("rollback adoption   OPEN: No agents report; the CA being restored"));

  auto blocked = rotationIn(api::Phase::kBlocked, reconcilers::triggers::kRotateRequested);
  blocked.status.resumePhase = api::Phase::kAwaitingAdoption;
  EXPECT_THAT(nextStepOf(blocked), HasSubstr("rotor approve edge-proxy"));
  EXPECT_THAT(nextStepOf(rotationIn(api::Phase::kPaused, "")), HasSubstr("rotor resume edge-proxy"));
  EXPECT_THAT(nextStepOf(rotationIn(api::Phase::kReady, "")), HasSubstr("rotor plan edge-proxy"));
  EXPECT_THAT(nextStepOf(rotationIn(api::Phase::kFailed, "")), HasSubstr("rotor rollback edge-proxy --to SNAPSHOT"));
}

TEST(StatusReportTest, CountsWhatTheGateCountsConsumerPodsWithTheAgents) {
  // Seen by a new user: with adoption.pods and no agents, the summary read "100.0%  0/0 active agents adopted"
  // and "wait for the agents" while the gate waited for 0 of 2 consumer pods.
  auto waiting = rotationIn(api::Phase::kAwaitingAdoption, reconcilers::triggers::kRotateRequested);
  waiting.spec.adoption.pods = api::ConsumerPodsSpec{};
  waiting.status.adoption = {0, 0, 0, 1.0, {}};
  waiting.status.pods = api::PodAdoptionStatus{};
  waiting.status.pods->running = 2;
  const std::string report = formatStatusReport(waiting, {}, rotor::testing::fixtureNow());
  EXPECT_THAT(report, HasSubstr("  0.0%  0/2 active clients (agents and consumer pods) adopted (agents 0/0, "
                                "consumer pods 0/2)"));
  EXPECT_THAT(report, Not(HasSubstr("100.0%")));
  EXPECT_THAT(nextStepOf(waiting), HasSubstr("wait for the consumer pods, or swap now"));
  EXPECT_EQ(api::adoptionPercent(api::clientTally(waiting.status)), "0%");  // kubectl's column
  waiting.status.pods->adopted = 1;
  waiting.status.adoption = {2, 2, 0, 1.0, {}};
  EXPECT_THAT(formatStatusReport(waiting, {}, rotor::testing::fixtureNow()),
              HasSubstr("3/4 active clients (agents and consumer pods) adopted (agents 2/2, consumer pods 1/2)"));
  EXPECT_THAT(nextStepOf(waiting), HasSubstr("wait for the agents and consumer pods"));
  EXPECT_EQ(api::adoptionPercent(api::clientTally(waiting.status)), "75%");

  auto agentsOnly = rotationIn(api::Phase::kAwaitingAdoption, reconcilers::triggers::kRotateRequested);
  EXPECT_THAT(formatStatusReport(agentsOnly, {}, rotor::testing::fixtureNow()),
              HasSubstr("Adoption:    no active agents, 0 stale agents"));
}

TEST(StatusReportTest, APlanAsksOnlyForTheBoundsThatAreSet) {
  auto ready = rotationIn(api::Phase::kReady, "");
  ready.spec.ca.generate = api::CaGenerateSpec{.commonName = "Edge CA"};
  EXPECT_THAT(formatPlan(ready, rotor::testing::fixtureNow()), Not(HasSubstr("at least")));
  ready.spec.adoption.minAgents = 3;
  ready.spec.adoption.minStageDuration = std::chrono::hours(1);
  EXPECT_THAT(formatPlan(ready, rotor::testing::fixtureNow()),
              HasSubstr("Wait for adoption: 100% of active agents (agents seen within 24h), at least 3, staged for "
                        "at least 1h"));
}

}  // namespace
}  // namespace rotor::cli

namespace rotor::cli {
namespace {

TEST(StatusReportTest, SaysWhereTheClusterTrustBundleStandsAndWhatTheCaSecretHoldsForLater) {
  auto r = rotationIn(api::Phase::kAwaitingAdoption, reconcilers::triggers::kCaChanged);
  r.status.bundleCopies = api::BundleCopiesStatus{
      0, 0, {}, api::ClusterTrustBundleStatus{"example.com:edge:ca", "", false, false, "the API server serves none"}};
  r.status.caSecret.pending = "sha256:abcd";
  std::string report = formatStatusReport(r, {}, rotor::testing::fixtureNow());
  EXPECT_THAT(report, HasSubstr("ClusterTrustBundle: example.com:edge:ca is not current: the API server serves none"));
  EXPECT_THAT(report, Not(HasSubstr("Bundle copies:"))) << "no namespace is copied to";
  EXPECT_THAT(report, HasSubstr("CA Secret:  holds sha256:abcd, taken up when this rotation ends"));
  r.status.bundleCopies->clusterTrustBundle = {"example.com:edge:ca", "certificates.k8s.io/v1alpha1", true, false, ""};
  report = formatStatusReport(r, {}, rotor::testing::fixtureNow());
  EXPECT_THAT(report, HasSubstr("ClusterTrustBundle: example.com:edge:ca holds the bundle as it is now "
                                "(certificates.k8s.io/v1alpha1)"));
}

}  // namespace
}  // namespace rotor::cli
