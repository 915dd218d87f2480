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

}  // namespace
}  // namespace rotor::cli
