// Every manifest in examples/ is valid in local mode and its scenario runs to the end.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "controller/api/validate.h"
#include "controller/api/yaml_codec.h"
#include "controller/pki/bundle.h"
#include "tests/support/agent_records.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::reconcilers {
namespace {

using api::Phase;

api::CertificateRotation loadExample(const std::string& file) {
  auto decoded = api::decodeManifests(rotor::testing::readSourceFile("examples/" + file), api::Mode::kLocal);
  EXPECT_OK(decoded) << file;
  EXPECT_EQ(decoded->size(), 1u);
  EXPECT_OK(api::validateRotation(decoded->front(), api::Mode::kLocal)) << file;
  return decoded->front();
}

class ExamplesTest : public ::testing::Test {
protected:
  rotor::testing::RotationHarness h;
  api::ObjectKey bootstrap(const std::string& file) {
    auto r = h.create(loadExample(file));
    EXPECT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
    return r.key();
  }
};

TEST_F(ExamplesTest, AgentProxyWaitsForItsAgentThenRotatesItsCa) {
  auto key = bootstrap("agent-proxy-ca-rotation.yaml");
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  ASSERT_OK(h.runUntil(
                 key, [](const auto&) { return false; }, 20)
                        .code() == Code::kDeadlineExceeded
                ? okStatus()
                : internalError("expected to keep waiting"));
  EXPECT_EQ(h.get(key).status.phase, Phase::kAwaitingAdoption) << "minAgents 1: never without an agent";
  ASSERT_OK(rotor::testing::putAgent(h.store, key,
                                     {"agent-7", h.clock.now(), {h.get(key).status.ca.next->fingerprint}, "2.1"}));
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2, 2000));
}

TEST_F(ExamplesTest, RenewalWaitsForTheWindowAndKeepsTheCa) {
  auto key = bootstrap("renewal-in-window.yaml");
  const auto ca = h.get(key).status.ca.current;
  h.annotate(key, std::string(api::kRenewAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_EQ(h.get(key).status.ca.current, ca);
  // 2026-11-22 is a Sunday: the first window is Monday 02:00 Paris (01:00Z).
  EXPECT_GE(h.clock.now(), std::chrono::system_clock::from_time_t(1795395600));
}

TEST_F(ExamplesTest, ManagementPairCountsOnlyActiveClientsAndSwapsOneAtATime) {
  auto key = bootstrap("management-pair.yaml");
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  const std::string next = h.get(key).status.ca.next->fingerprint;
  ASSERT_OK(rotor::testing::putAgent(h.store, key, {"offline", h.clock.now() - std::chrono::hours(48), {}, ""}));
  for (int i = 0; i < 9; ++i)
    ASSERT_OK(rotor::testing::putAgent(h.store, key, {"console-" + std::to_string(i), h.clock.now(), {next}, ""}));
  // minStageDuration 1h, polled every 10 s; Swapping goes on to Verifying in the same pass.
  ASSERT_OK(h.runUntilPhase(key, Phase::kVerifying, 0, 2000));
  auto first = h.get(key);
  EXPECT_EQ(first.status.adoption.stale, 1);
  EXPECT_EQ(first.status.adoption.active, 9);
  EXPECT_EQ(first.status.servers[0].issuerFingerprint, next) << "mgmt-1 swapped";
  EXPECT_NE(first.status.servers[1].issuerFingerprint, next) << "mgmt-2 still on the old CA";
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2, 2000));
}

TEST_F(ExamplesTest, GatewayIsValidWithKeystoreAndTruststoreAndRotates) {
  auto r = loadExample("gateway-pkcs12.yaml");
  ASSERT_TRUE(r.spec.servers[0].pkcs12.has_value());
  ASSERT_TRUE(r.spec.trustBundle.pkcs12.has_value());
  auto key = bootstrap("gateway-pkcs12.yaml");
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2, 2000));
}

TEST_F(ExamplesTest, BrokerKeepsItsOldCaUntilItExpires) {
  auto key = bootstrap("broker-self-signed.yaml");
  const SystemTime oldExpiry = *h.get(key).status.ca.current->notAfter;
  h.clock.advance(std::chrono::hours(24 * 61));  // within ca.rotateBefore (720h of a 2160h CA)
  ASSERT_OK(h.runUntilPhase(key, Phase::kDraining, 0, 2000));
  auto draining = h.get(key);
  auto bundle = pki::parsePemBundle(*h.store.readBundle(draining)->value).value();
  EXPECT_EQ(bundle.size(), 2u) << "old and new CA while draining";
  // Draining lasts until the old CA expires; by then the new server certificate (720h) is due for
  // renewal too, so the same pass may go on to revision 3.
  ASSERT_OK(h.runUntil(
      key, [](const auto& r) { return r.status.phase == Phase::kReady && r.status.revision >= 2; }, 2000));
  EXPECT_GE(h.clock.now(), oldExpiry);
  EXPECT_EQ(h.get(key).status.ca.previous->notAfter, oldExpiry);
}

TEST_F(ExamplesTest, LocalNginxExampleRotates) {
  auto key = bootstrap("local-nginx.yaml");
  h.annotate(key, std::string(api::kRotateAnnotation), "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
}

}  // namespace
}  // namespace rotor::reconcilers
