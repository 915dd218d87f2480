#include "reconcilers/bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/pki/bundle.h"
#include "controller/pki/verify.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fault_store.h"
#include "tests/support/memory_store.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"

namespace rotor::reconcilers {
namespace {

using rotor::testing::StatusIs;
using ::testing::ElementsAre;

class BootstrapTest : public ::testing::Test {
protected:
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store{clock};

  api::CertificateRotation create() {
    api::CertificateRotation r;
    r.metadata.name = "proxy";
    r.spec.certificate.commonName = "proxy.example.com";
    r.spec.certificate.dnsNames = {"proxy.example.com"};
    r.spec.servers.push_back({.name = "a", .certFile = "a.crt", .keyFile = "a.key"});
    r.spec.servers.push_back({.name = "b", .certFile = "b.crt", .keyFile = "b.key"});
    r.spec.ca.generate = api::CaGenerateSpec{"Proxy CA", std::chrono::hours(24 * 365), {}};
    r.spec.trustBundle.file = "bundle.pem";
    return store.applyRotation(r).value();
  }

  /** Every server that presents a certificate verifies against the stored bundle: the invariant
   *  clients need, at every instant. `requireAll`: every server must present one. */
  void expectServedVerifiesAgainstBundle(const api::CertificateRotation& r, bool requireAll = true) {
    expectServedVerifiesAgainstBundleIn(store, r, requireAll);
  }
  void expectServedVerifiesAgainstBundleIn(store::Store& s, const api::CertificateRotation& r, bool requireAll) {
    auto bundlePem = s.readBundle(r).value().value;
    for (const auto& server : r.spec.servers) {
      auto served = s.readServed(r, server.name).value().value;
      if (!served) {
        EXPECT_FALSE(requireAll) << server.name << " presents nothing";
        continue;
      }
      ASSERT_TRUE(bundlePem.has_value()) << server.name << " serves before the bundle exists";
      auto bundle = pki::parsePemBundle(*bundlePem).value();
      auto chain = pki::parsePemBundle(served->certificateChainPem).value();
      EXPECT_OK(pki::verifyChain(chain.front(), {}, bundle, clock.now())) << server.name;
    }
  }
};

TEST_F(BootstrapTest, IssuesCaServersAndBundleThenReportsReady) {
  auto r = create();
  ASSERT_OK(bootstrapRotation(store, clock, r));
  auto stored = store.getRotation(r.key()).value();
  EXPECT_EQ(stored.status.phase, api::Phase::kReady);
  EXPECT_EQ(stored.status.revision, 1);
  EXPECT_EQ(stored.status.observedGeneration, 1);
  ASSERT_TRUE(stored.status.ca.current.has_value());
  ASSERT_EQ(stored.status.servers.size(), 2u);
  EXPECT_EQ(stored.status.servers[0].issuerFingerprint, stored.status.ca.current->fingerprint);
  ASSERT_NE(api::findCondition(stored.status, api::kConditionReady), nullptr);
  EXPECT_EQ(api::findCondition(stored.status, api::kConditionReady)->status, "True");
  expectServedVerifiesAgainstBundle(stored);
  EXPECT_THAT(store.reloads(), ElementsAre("default/proxy/a", "default/proxy/b"));
  // No key material in status.
  EXPECT_EQ(stored.status.message.find("PRIVATE"), std::string::npos);
}

TEST_F(BootstrapTest, RunningAgainChangesNothing) {
  auto r = create();
  ASSERT_OK(bootstrapRotation(store, clock, r));
  auto first = store.getRotation(r.key()).value();
  auto servedBefore = store.readServed(first, "a").value();
  ASSERT_OK(bootstrapRotation(store, clock, first));
  auto second = store.getRotation(r.key()).value();
  EXPECT_EQ(second.status.ca, first.status.ca);
  EXPECT_EQ(second.status.servers, first.status.servers);
  EXPECT_EQ(store.readServed(second, "a")->version, servedBefore.version);
}

TEST_F(BootstrapTest, ResumesFromPartialStateWithoutReissuing) {
  auto r = create();
  // As if a crash came after the CA and one server were written.
  auto ca = rotor::testing::makeCa("Proxy CA");
  store::Authorities a;
  a.current = store::AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  ASSERT_OK(store.writeAuthorities(r, a, ""));
  auto leaf = rotor::testing::issueLeaf(ca);
  ASSERT_OK(store.writeServed(r, "a", {leaf.certificate.toPem(), leaf.key.toPem(), ca.certificate().toPem()}, ""));
  ASSERT_OK(bootstrapRotation(store, clock, r));
  auto stored = store.getRotation(r.key()).value();
  EXPECT_EQ(stored.status.ca.current->fingerprint, ca.certificate().fingerprint().toString());
  EXPECT_EQ(stored.status.servers[0].fingerprint, leaf.certificate.fingerprint().toString());
  expectServedVerifiesAgainstBundle(stored);
}

TEST_F(BootstrapTest, ACrashAtAnyWriteIsFinishedByTheNextRunWithoutReissuing) {
  for (int crashAt = 1;; ++crashAt) {
    rotor::testing::MemoryStore inner(clock);
    api::CertificateRotation r;
    {
      auto created = create();  // the template, from the fixture's store
      created.metadata.resourceVersion.clear();
      r = inner.applyRotation(created).value();
    }
    rotor::testing::FaultStore dying(inner, crashAt);
    api::CertificateRotation attempt = r;
    Status first = bootstrapRotation(dying, clock, attempt);
    if (!dying.crashed()) {
      ASSERT_OK(first);
      EXPECT_GT(crashAt, 5) << "the sweep must cover every write of a bootstrap";
      break;
    }
    EXPECT_FALSE(first.ok()) << "crash at write " << crashAt;
    // Whatever was written, the bundle already trusts every served certificate.
    auto partial = inner.getRotation(r.key()).value();
    expectServedVerifiesAgainstBundleIn(inner, partial, /*requireAll=*/false);
    auto casBefore = inner.readAuthorities(partial).value().value;
    auto servedBefore = inner.readServed(partial, "a").value().value;
    // Restart: rebuild from stored state only and run to the end.
    auto restarted = inner.getRotation(r.key()).value();
    ASSERT_OK(bootstrapRotation(inner, clock, restarted)) << "crash at write " << crashAt;
    auto done = inner.getRotation(r.key()).value();
    EXPECT_EQ(done.status.phase, api::Phase::kReady);
    if (casBefore.current) {
      EXPECT_EQ(inner.readAuthorities(done)->value.current, casBefore.current) << "CA re-issued after crash " << crashAt;
    }
    if (servedBefore) {
      EXPECT_EQ(inner.readServed(done, "a")->value, servedBefore) << "server re-issued after crash " << crashAt;
    }
    expectServedVerifiesAgainstBundleIn(inner, done, /*requireAll=*/true);
  }
}

TEST_F(BootstrapTest, CaImportIsRefusedClearlyForNow) {
  auto r = create();
  r.spec.ca.generate.reset();
  r.spec.ca.files = api::CaFilesSpec{"ca.crt", "ca.key"};
  EXPECT_THAT(bootstrapRotation(store, clock, r), StatusIs(Code::kFailedPrecondition));
}

TEST_F(BootstrapTest, StaleRotationIsAConflict) {
  auto r = create();
  auto stale = r;
  ASSERT_OK(bootstrapRotation(store, clock, r));
  stale.status.phase = api::Phase::kIssuing;
  EXPECT_THAT(bootstrapRotation(store, clock, stale), StatusIs(Code::kConflict));
}

}  // namespace
}  // namespace rotor::reconcilers
