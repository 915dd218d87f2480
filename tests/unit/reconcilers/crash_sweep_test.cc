// A crash at every write of a whole rotation: the controller is rebuilt from stored state alone
// and must converge to the same end, with the bundle trusting whatever is served at every point
// and no snapshot lost.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "controller/pki/bundle.h"
#include "tests/support/fault_store.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

using api::Phase;
using rotor::testing::RotationHarness;
using rotor::testing::servedVerifiesAgainstBundle;

struct Scenario {
  std::string name;
  std::string annotation;  // the request that starts it
  bool failProbeOfB;       // b's health probe fails: the swap rolls back
  Phase wantPhase;
  int64_t wantRevision;
  std::vector<std::string> wantSnapshots;
};

class CrashSweepTest : public ::testing::TestWithParam<Scenario> {};

std::set<std::string> snapshotsIn(store::Store& s, const api::CertificateRotation& r) {
  auto names = s.listSnapshots(r).value();
  return {names.begin(), names.end()};
}

using Done = std::function<bool(const api::CertificateRotation&)>;

/**
 * Drives `key` through a store that dies at write `crashAt` until it crashes or is `done`. After a
 * crash: clients holding the bundle still trust every served certificate at that instant, and a
 * driver rebuilt from stored state alone reconciles to `done`, the invariant checked after every
 * reconcile. `crashed` is false when the whole run fit before write `crashAt`.
 */
void crashThenRestart(RotationHarness& h, const api::ObjectKey& key, int crashAt, const Done& done, bool& crashed,
                      std::set<std::string>& snapshotsAtCrash) {
  rotor::testing::FaultStore dying(h.store, crashAt);
  Status first = h.runUntil(key, done, 400, &dying);
  crashed = dying.crashed();
  if (!crashed) {
    ASSERT_OK(first);
    return;
  }
  const auto atCrash = h.get(key);
  ASSERT_TRUE(servedVerifiesAgainstBundle(h.store, atCrash, h.clock.now())) << "crash at write " << crashAt;
  snapshotsAtCrash = snapshotsIn(h.store, atCrash);
  auto driver = h.driver(h.store);
  for (int i = 0; i < 400 && !done(h.get(key)); ++i) {
    auto result = driver.reconcile(key);
    ASSERT_OK(result) << "crash at write " << crashAt;
    ASSERT_TRUE(servedVerifiesAgainstBundle(h.store, h.get(key), h.clock.now())) << "crash at write " << crashAt;
    h.clock.advance(std::max<Duration>(result->requeueAfter, std::chrono::seconds(1)));
  }
  const auto end = h.get(key);
  ASSERT_TRUE(done(end)) << "crash at write " << crashAt << " ended in " << api::phaseName(end.status.phase);
}

TEST_P(CrashSweepTest, ConvergesAfterACrashAtEveryWrite) {
  const Scenario& sc = GetParam();
  int sweeps = 0;
  for (int crashAt = 1;; ++crashAt) {
    RotationHarness h;
    auto key = h.create(rotor::testing::rotationTemplate(2)).key();
    ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 1));
    const auto original = h.get(key);
    const auto originalA = h.store.readServed(original, "a")->value;
    if (sc.failProbeOfB) h.prober.fail("127.0.0.1:9001", failedPrecondition("handshake failure"));
    h.annotate(key, sc.annotation, "1");
    const auto done = [&](const api::CertificateRotation& r) {
      return r.status.phase == sc.wantPhase && r.status.revision == sc.wantRevision;
    };
    bool crashed = false;
    std::set<std::string> snapshotsAtCrash;
    ASSERT_NO_FATAL_FAILURE(crashThenRestart(h, key, crashAt, done, crashed, snapshotsAtCrash));
    if (!crashed) {
      break;  // the whole rotation ran before write N: every write has been swept
    }
    ++sweeps;
    auto end = h.get(key);
    const auto snapshotsAtEnd = snapshotsIn(h.store, end);
    for (const auto& s : snapshotsAtCrash) EXPECT_TRUE(snapshotsAtEnd.count(s)) << s << " lost, crash at " << crashAt;
    EXPECT_EQ(snapshotsAtEnd, std::set<std::string>(sc.wantSnapshots.begin(), sc.wantSnapshots.end()))
        << "crash at write " << crashAt;
    if (sc.wantPhase == Phase::kRolledBack) {
      EXPECT_EQ(h.store.readServed(end, "a")->value, originalA) << "crash at write " << crashAt;
      EXPECT_EQ(end.status.ca.current, original.status.ca.current);
    } else if (sc.annotation == api::kRotateAnnotation) {
      auto bundle = pki::parsePemBundle(*h.store.readBundle(end)->value).value();
      ASSERT_EQ(bundle.size(), 1u) << "crash at write " << crashAt;
      EXPECT_EQ(bundle.front().fingerprint().toString(), end.status.ca.current->fingerprint);
      EXPECT_EQ(end.status.ca.previous, original.status.ca.current);
    } else if (sc.annotation == api::kRenewCaAnnotation) {
      // Re-issued once, with the same key, however often the controller restarted.
      EXPECT_NE(end.status.ca.current, original.status.ca.current) << "crash at write " << crashAt;
      EXPECT_EQ(h.store.readAuthorities(end)->value.current->keyPem,
                h.store.readAuthorities(original)->value.current->keyPem);
      EXPECT_EQ(pki::parsePemBundle(*h.store.readBundle(end)->value)->size(), 2u) << "crash at write " << crashAt;
    } else {
      EXPECT_EQ(end.status.ca.current, original.status.ca.current);
      EXPECT_NE(end.status.servers[0].fingerprint, original.status.servers[0].fingerprint);
    }
    EXPECT_EQ(end.status.observedGeneration, end.metadata.generation);
  }
  EXPECT_GT(sweeps, 10) << "the sweep must cover every write of the rotation";
}

TEST(CrashSweepRollbackTest, ARollbackPastThePruneConvergesAfterACrashAtEveryWrite) {
  // The pruned CA goes back into the bundle before any server is restored: a crash at any write
  // leaves every served certificate trusted, and the end is the snapshot, byte for byte.
  int sweeps = 0;
  for (int crashAt = 1;; ++crashAt) {
    RotationHarness h;
    auto key = h.create(rotor::testing::rotationTemplate(2)).key();
    ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 1));
    const auto original = h.get(key);
    const auto originalA = h.store.readServed(original, "a")->value;
    h.annotate(key, std::string(api::kRotateAnnotation), "1");
    ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
    h.editSpec(key, [](api::RotationSpec& s) { s.rollbackTo = "proxy-r1-swap"; });
    const auto done = [](const api::CertificateRotation& r) { return r.status.phase == Phase::kRolledBack; };
    bool crashed = false;
    std::set<std::string> snapshotsAtCrash;
    ASSERT_NO_FATAL_FAILURE(crashThenRestart(h, key, crashAt, done, crashed, snapshotsAtCrash));
    if (!crashed) {
      break;
    }
    ++sweeps;
    auto end = h.get(key);
    EXPECT_EQ(h.store.readServed(end, "a")->value, originalA) << "crash at write " << crashAt;
    EXPECT_EQ(*h.store.readBundle(end)->value, h.store.getSnapshot(end, "proxy-r1-swap")->bundlePem)
        << "crash at write " << crashAt;
    EXPECT_EQ(end.status.ca.current, original.status.ca.current);
  }
  EXPECT_GT(sweeps, 5) << "the sweep must cover every write of the rollback";
}

INSTANTIATE_TEST_SUITE_P(
    Rotations, CrashSweepTest,
    ::testing::Values(
        Scenario{"ca_rotation",
                 std::string(api::kRotateAnnotation),
                 false,
                 Phase::kReady,
                 2,
                 {"proxy-r1-swap", "proxy-r1-prune"}},
        Scenario{"renewal", std::string(api::kRenewAnnotation), false, Phase::kReady, 2, {"proxy-r1-swap"}},
        Scenario{"ca_renewal", std::string(api::kRenewCaAnnotation), false, Phase::kReady, 2, {"proxy-r1-swap"}},
        Scenario{"rollback_after_failed_probe",
                 std::string(api::kRotateAnnotation),
                 true,
                 Phase::kRolledBack,
                 1,
                 {"proxy-r1-swap"}}),
    [](const auto& tc) { return tc.param.name; });

}  // namespace
}  // namespace rotor::reconcilers
