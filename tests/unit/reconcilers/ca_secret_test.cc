// spec.ca.secretRef with onChange: Rotate: a CA Secret another controller (cert-manager) rewrites.
// A new key starts the phased CA rotation, the same key re-issued a same-key CA renewal; with
// Ignore nothing starts; a write during a rotation waits for it (status.caSecret.pending) and is
// taken up after it; a CA once taken up never starts a rotation again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/pki/bundle.h"
#include "reconcilers/driver.h"
#include "reconcilers/triggers.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/rotation_harness.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

using api::Phase;
using rotor::testing::RotationHarness;
using ::testing::Contains;
using ::testing::HasSubstr;

class CaSecretTest : public ::testing::Test {
protected:
  /** A rotation importing its CA from a Secret that holds `ca`, Ready at revision 1. */
  api::ObjectKey readyWith(const pki::CertificateAuthority& ca,
                           api::CaSourceChange onChange = api::CaSourceChange::kRotate) {
    auto spec = rotor::testing::rotationTemplate(1);
    spec.spec.ca.generate.reset();
    spec.spec.ca.secretRef = api::CaSecretRef{"edge-ca", onChange};
    spec.spec.adoption.mode = api::AdoptionMode::kManual;  // the gate waits for `approve`
    const auto r = h.create(spec);
    write(r.key(), ca);
    EXPECT_OK(h.runUntilPhase(r.key(), Phase::kReady, 1));
    return r.key();
  }
  /** What the other controller writes into the Secret. */
  void write(const api::ObjectKey& key, const pki::CertificateAuthority& ca) {
    h.store.setCustomAuthority(key, {ca.certificate().toPem(), ca.key().toPem()});
  }
  void approve(const api::ObjectKey& key, const std::string& value) {
    h.annotate(key, std::string(api::kApproveAnnotation), value);
  }
  std::string currentCa(const api::ObjectKey& key) { return h.get(key).status.ca.current->fingerprint; }
  static std::string fingerprintOf(const pki::CertificateAuthority& ca) {
    return ca.certificate().fingerprint().toString();
  }

  RotationHarness h;
  const pki::CertificateAuthority v1_ = rotor::testing::makeCa("Managed CA");
};

TEST_F(CaSecretTest, ANewKeyWrittenThereStartsThePhasedRotation) {
  const auto key = readyWith(v1_);
  const auto v2 = rotor::testing::makeCa("Managed CA");  // cert-manager's default: a new key
  write(key, v2);
  ASSERT_OK(h.driver(h.store).reconcile(key));
  auto staged = h.get(key);
  EXPECT_EQ(staged.status.trigger, triggers::kCaChanged);
  EXPECT_THAT(staged.status.timeline.at(2).message, HasSubstr("A new CA was written into Secret"));
  EXPECT_EQ(staged.status.caSecret.taken, fingerprintOf(v2));
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  approve(key, "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  EXPECT_EQ(currentCa(key), fingerprintOf(v2));
  // At rest with what the Secret holds: nothing more starts.
  for (int i = 0; i < 5; ++i) ASSERT_OK(h.driver(h.store).reconcile(key));
  EXPECT_EQ(h.get(key).status.revision, 2);
}

TEST_F(CaSecretTest, TheSameKeyReissuedIsASameKeyRenewalWithoutAnAdoptionRound) {
  const auto key = readyWith(v1_);
  auto reissued = v1_.renew(std::chrono::hours(24 * 365), h.clock.now());
  ASSERT_OK(reissued);  // rotationPolicy: Never
  write(key, *reissued);
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 2));
  const auto done = h.get(key);
  EXPECT_THAT(done.status.timeline.at(2).message, HasSubstr("The CA was re-issued with its key in Secret"));
  EXPECT_EQ(currentCa(key), fingerprintOf(*reissued));
  for (const api::PhaseEntry& e : done.status.timeline) EXPECT_NE(e.phase, Phase::kAwaitingAdoption);
  auto bundle = pki::parsePemBundle(*h.store.readBundle(done)->value);
  ASSERT_OK(bundle);
  std::vector<std::string> held;
  for (const pki::Certificate& c : *bundle) held.push_back(c.fingerprint().toString());
  EXPECT_THAT(held, Contains(fingerprintOf(*reissued)));
  EXPECT_TRUE(rotor::testing::servedVerifiesAgainstBundle(h.store, done, h.clock.now()));
}

TEST_F(CaSecretTest, WithIgnoreAWriteStartsNothing) {
  const auto key = readyWith(v1_, api::CaSourceChange::kIgnore);
  write(key, rotor::testing::makeCa("Managed CA"));
  for (int i = 0; i < 5; ++i) ASSERT_OK(h.driver(h.store).reconcile(key));
  EXPECT_EQ(h.get(key).status.revision, 1);
  EXPECT_EQ(currentCa(key), fingerprintOf(v1_));
}

TEST_F(CaSecretTest, AWriteDuringARotationWaitsForItAndIsTakenUpAfter) {
  const auto key = readyWith(v1_);
  const auto v2 = rotor::testing::makeCa("Managed CA");
  write(key, v2);
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  const auto v3 = rotor::testing::makeCa("Managed CA");
  write(key, v3);
  ASSERT_OK(h.driver(h.store).reconcile(key));
  auto waiting = h.get(key);
  EXPECT_EQ(waiting.status.phase, Phase::kAwaitingAdoption);
  EXPECT_EQ(waiting.status.ca.next->fingerprint, fingerprintOf(v2)) << "the rotation under way is not changed";
  EXPECT_EQ(waiting.status.caSecret.pending, fingerprintOf(v3));
  EXPECT_THAT(h.events.reasons, Contains("CASecretChangePending"));
  approve(key, "1");
  // The rotation ends at revision 2 with v2, and the next starts in the same pass: v3.
  ASSERT_OK(h.runUntil(key, [](const api::CertificateRotation& r) { return r.status.revision == 2; }));
  EXPECT_EQ(currentCa(key), fingerprintOf(v2));
  // Then v3, in a rotation of its own.
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  EXPECT_EQ(h.get(key).status.caSecret.taken, fingerprintOf(v3));
  EXPECT_EQ(h.get(key).status.caSecret.pending, "");
  approve(key, "2");
  ASSERT_OK(h.runUntilPhase(key, Phase::kReady, 3));
  EXPECT_EQ(currentCa(key), fingerprintOf(v3));
}

TEST_F(CaSecretTest, ACaRolledBackFromDoesNotStartAgainUntilAnotherIsWritten) {
  const auto key = readyWith(v1_);
  h.prober.fail("127.0.0.1:9000", failedPrecondition("handshake failure"));
  write(key, rotor::testing::makeCa("Managed CA"));
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
  approve(key, "1");
  ASSERT_OK(h.runUntilPhase(key, Phase::kRolledBack));
  h.prober.heal("127.0.0.1:9000");
  for (int i = 0; i < 5; ++i) ASSERT_OK(h.driver(h.store).reconcile(key));
  EXPECT_EQ(h.get(key).status.phase, Phase::kRolledBack) << "the Secret still holds the CA taken up once: no loop";
  write(key, rotor::testing::makeCa("Managed CA"));
  ASSERT_OK(h.runUntilPhase(key, Phase::kAwaitingAdoption));
}

}  // namespace
}  // namespace rotor::reconcilers
