#include "controller/pki/authority.h"

#include <gtest/gtest.h>

#include "controller/pki/verify.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::fixtureNow;
using ::testing::HasSubstr;
using testing::StatusIs;

struct AlgorithmCase {
  std::string name;
  KeySpec key;
};

class AuthorityAlgorithmTest : public ::testing::TestWithParam<AlgorithmCase> {};

TEST_P(AuthorityAlgorithmTest, GeneratesARootThatIssuesVerifiableServerCertificates) {
  auto ca = CertificateAuthority::generate({"Example Root", 24h * 365, GetParam().key}, fixtureNow());
  ASSERT_OK(ca);
  const Certificate& root = ca->certificate();
  EXPECT_TRUE(root.isCa());
  EXPECT_TRUE(root.isSelfSigned());
  EXPECT_EQ(root.commonName(), "Example Root");
  EXPECT_FALSE(root.subjectKeyId().empty());
  EXPECT_EQ(root.authorityKeyId(), root.subjectKeyId());
  EXPECT_TRUE(root.matchesKey(ca->key()));
  EXPECT_EQ(ca->key().spec(), GetParam().key);

  auto leaf = testing::issueLeaf(*ca);
  EXPECT_FALSE(leaf.certificate.isCa());
  EXPECT_EQ(leaf.certificate.authorityKeyId(), root.subjectKeyId());
  EXPECT_OK(verifyChain(leaf.certificate, {}, std::span(&root, 1), fixtureNow()));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AuthorityAlgorithmTest,
                         ::testing::ValuesIn(std::vector<AlgorithmCase>{
                             {"ecdsa_p256", {KeyAlgorithm::kEcdsa, 256}},
                             {"ecdsa_p384", {KeyAlgorithm::kEcdsa, 384}},
                             {"rsa_2048", {KeyAlgorithm::kRsa, 2048}},
                             {"ed25519", {KeyAlgorithm::kEd25519, 0}},
                         }),
                         [](const auto& tc) { return tc.param.name; });

TEST(AuthorityTest, IssuedCertificateCarriesNamesValidityAndServerAuth) {
  auto ca = testing::makeCa("Root");
  auto leaf = testing::issueLeaf(ca);
  const Certificate& c = leaf.certificate;
  EXPECT_EQ(c.commonName(), "proxy.example.com");
  EXPECT_THAT(c.dnsNames(), ElementsAre("proxy.example.com", "proxy"));
  EXPECT_THAT(c.ipAddresses(), ElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(c.notBefore(), fixtureNow() - kBackdate);
  EXPECT_EQ(c.notAfter(), fixtureNow() + 24h * 90);
  EXPECT_EQ(c.issuer(), ca.certificate().subject());
  EXPECT_TRUE(c.matchesKey(leaf.key));
  EXPECT_GE(c.serialHex().size(), 30u);

  // The openssl CLI agrees: serverAuth purpose, chain to the root.
  testing::TempDir dir;
  dir.write("root.pem", ca.certificate().toPem());
  dir.write("leaf.pem", c.toPem());
  std::string out;
  int rc = testing::runShell("openssl verify -attime 1795342500 -purpose sslserver -CAfile " +
                                 (dir.path() / "root.pem").string() + " " + (dir.path() / "leaf.pem").string(),
                             &out);
  EXPECT_EQ(rc, 0) << out;
  rc = testing::runShell(
      "openssl x509 -noout -ext extendedKeyUsage,basicConstraints -in " + (dir.path() / "leaf.pem").string(), &out);
  EXPECT_THAT(out, HasSubstr("TLS Web Server Authentication"));
  EXPECT_THAT(out, HasSubstr("CA:FALSE"));
}

TEST(AuthorityTest, LeafNeverOutlivesItsCa) {
  auto ca = testing::makeCa("Short Root", 24h * 10);
  auto leaf = testing::issueLeaf(ca);
  EXPECT_EQ(leaf.certificate.notAfter(), ca.certificate().notAfter());
}

TEST(AuthorityTest, ExpiredCaRefusesToIssue) {
  auto ca = testing::makeCa("Old Root", 24h);
  auto key = PrivateKey::generate({}).value();
  EXPECT_THAT(ca.issue(testing::leafSpec(), key, fixtureNow() + 48h),
              StatusIs(Code::kFailedPrecondition, HasSubstr("expired")));
}

TEST(AuthorityTest, RejectsBadLeafSpecs) {
  auto ca = testing::makeCa("Root");
  auto key = PrivateKey::generate({}).value();
  LeafSpec badIp = testing::leafSpec();
  badIp.ipAddresses = {"300.1.1.1"};
  EXPECT_THAT(ca.issue(badIp, key, fixtureNow()), StatusIs(Code::kInvalidArgument, HasSubstr("300.1.1.1")));
  EXPECT_THAT(ca.issue({"", {}, {}, 24h}, key, fixtureNow()), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(CertificateAuthority::generate({"", 24h, {}}, fixtureNow()), StatusIs(Code::kInvalidArgument));
}

TEST(AuthorityTest, ARenewedRootKeepsKeyAndSubjectSoClientsOfEitherCertificateVerifyBoth) {
  auto old = testing::makeCa("Short Root", 24h * 10);
  const SystemTime later = fixtureNow() + 24h * 5;
  auto renewed = old.renew(24h * 365, later);
  ASSERT_OK(renewed);
  EXPECT_EQ(renewed->certificate().subject(), old.certificate().subject());
  EXPECT_EQ(renewed->certificate().subjectKeyId(), old.certificate().subjectKeyId());
  EXPECT_EQ(renewed->key().toPem(), old.key().toPem());
  EXPECT_NE(renewed->certificate().serialHex(), old.certificate().serialHex());
  EXPECT_EQ(renewed->certificate().notAfter(), later + 24h * 365);
  EXPECT_TRUE(renewed->certificate().isCa());
  // A client that still trusts only the old certificate verifies a leaf of the renewed one (and
  // the other way round) while the certificate it trusts is valid; not once it has expired.
  auto key = PrivateKey::generate({}).value();
  auto fromRenewed = renewed->issue(testing::leafSpec(), key, later).value();
  auto fromOld = old.issue(testing::leafSpec(), key, later).value();
  const std::vector<Certificate> oldOnly{old.certificate()}, renewedOnly{renewed->certificate()};
  EXPECT_OK(verifyChain(fromRenewed, {}, oldOnly, later));
  EXPECT_OK(verifyChain(fromOld, {}, renewedOnly, later));
  EXPECT_OK(verifyChain(fromRenewed, {}, renewedOnly, fixtureNow() + 24h * 20));
  EXPECT_FALSE(verifyChain(fromRenewed, {}, oldOnly, fixtureNow() + 24h * 20).ok());
}

TEST(AuthorityTest, OnlyASelfSignedRootIsRenewed) {
  auto root = testing::makeCa("Root");
  auto other = testing::makeCa("Other Root");
  // The other root's key under a certificate the first root signed: an intermediate.
  auto intermediate =
      CertificateAuthority::fromPem(root.crossSign(other.certificate(), fixtureNow())->toPem(), other.key().toPem());
  ASSERT_OK(intermediate);
  EXPECT_THAT(intermediate->renew(24h, fixtureNow()),
              StatusIs(Code::kFailedPrecondition, HasSubstr("not self-signed")));
  EXPECT_THAT(root.renew(0h, fixtureNow()), StatusIs(Code::kInvalidArgument));
}

TEST(AuthorityTest, ImportsACustomCaFromPem) {
  auto generated = testing::makeCa("Custom Root");
  auto imported = CertificateAuthority::fromPem(generated.certificate().toPem(), generated.key().toPem());
  ASSERT_OK(imported);
  EXPECT_EQ(imported->certificate().fingerprint(), generated.certificate().fingerprint());
  auto leaf = testing::issueLeaf(*imported);
  EXPECT_OK(verifyChain(leaf.certificate, {}, std::span(&generated.certificate(), 1), fixtureNow()));
}

TEST(AuthorityTest, ImportRejectsWrongKeyAndNonCaCertificates) {
  auto a = testing::makeCa("A");
  auto b = testing::makeCa("B");
  EXPECT_THAT(CertificateAuthority::fromPem(a.certificate().toPem(), b.key().toPem()),
              StatusIs(Code::kInvalidArgument, HasSubstr("does not match")));
  auto leaf = testing::issueLeaf(a);
  EXPECT_THAT(CertificateAuthority::fromPem(leaf.certificate.toPem(), leaf.key.toPem()),
              StatusIs(Code::kInvalidArgument, HasSubstr("not a CA")));
  EXPECT_THAT(CertificateAuthority::fromPem("garbage", a.key().toPem()), StatusIs(Code::kInvalidArgument));
}

TEST(AuthorityTest, CrossSignedNewRootLetsOldCaClientsVerifyNewLeaves) {
  auto oldCa = testing::makeCa("Root 2025");
  auto newCa = testing::makeCa("Root 2026", 24h * 730);
  auto cross = oldCa.crossSign(newCa.certificate(), fixtureNow());
  ASSERT_OK(cross);
  EXPECT_TRUE(cross->isCa());
  EXPECT_EQ(cross->subject(), newCa.certificate().subject());
  EXPECT_EQ(cross->issuer(), oldCa.certificate().subject());
  EXPECT_EQ(cross->subjectKeyId(), newCa.certificate().subjectKeyId());
  EXPECT_EQ(cross->publicKeyFingerprint(), newCa.certificate().publicKeyFingerprint());
  EXPECT_LE(cross->notAfter(), oldCa.certificate().notAfter());

  auto leaf = testing::issueLeaf(newCa);
  const Certificate& oldRoot = oldCa.certificate();
  const Certificate& newRoot = newCa.certificate();
  // A client that trusts only the old root verifies leaf -> cross -> old root.
  EXPECT_OK(verifyChain(leaf.certificate, std::span(&*cross, 1), std::span(&oldRoot, 1), fixtureNow()));
  // A client that trusts the new root verifies with or without the cross certificate.
  EXPECT_OK(verifyChain(leaf.certificate, std::span(&*cross, 1), std::span(&newRoot, 1), fixtureNow()));
  // Without the cross certificate, the old-root client fails: the cross-sign is what saves it.
  EXPECT_THAT(verifyChain(leaf.certificate, {}, std::span(&oldRoot, 1), fixtureNow()),
              StatusIs(Code::kFailedPrecondition));

  // openssl verify, as a client would, agrees.
  testing::TempDir dir;
  dir.write("old.pem", oldRoot.toPem());
  dir.write("cross.pem", cross->toPem());
  dir.write("leaf.pem", leaf.certificate.toPem());
  std::string out;
  EXPECT_EQ(testing::runShell("openssl verify -attime 1795342500 -CAfile " + (dir.path() / "old.pem").string() +
                                  " -untrusted " + (dir.path() / "cross.pem").string() + " " +
                                  (dir.path() / "leaf.pem").string(),
                              &out),
            0)
      << out;
}

TEST(AuthorityTest, CrossSignRefusesNonCa) {
  auto ca = testing::makeCa("Root");
  auto leaf = testing::issueLeaf(ca);
  EXPECT_THAT(ca.crossSign(leaf.certificate, fixtureNow()), StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rotor::pki
