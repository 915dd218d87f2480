#include "controller/pki/compatibility.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/pki_fixtures.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::Field;
using testing::fixtureNow;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

std::vector<std::string> checkNames(const std::vector<Finding>& findings) {
  std::vector<std::string> out;
  for (const Finding& f : findings) out.push_back(f.check);
  return out;
}

class CompatibilityTest : public ::testing::Test {
protected:
  CertificateAuthority oldCa = testing::makeCa("Root 2025");
  CertificateAuthority newCa = testing::makeCa("Root 2026", 24h * 730);
  testing::IssuedLeaf served = testing::issueLeaf(oldCa);

  std::vector<Finding> check(const testing::IssuedLeaf& candidate, const CertificateAuthority& issuer,
                             std::vector<Certificate> roots, SystemTime at = fixtureNow(),
                             std::vector<Certificate> chain = {}) {
    return checkCompatibility({.candidate = candidate.certificate,
                               .intermediates = chain,
                               .key = &candidate.key,
                               .previous = &served.certificate,
                               .issuingCa = issuer.certificate(),
                               .roots = roots,
                               .at = at});
  }
};

TEST_F(CompatibilityTest, SameNamesUnderTheNewCaPass) {
  auto candidate = testing::issueLeaf(newCa);
  EXPECT_THAT(check(candidate, newCa, {newCa.certificate()}), IsEmpty());
}

TEST_F(CompatibilityTest, CrossSignedChainPassesForBothRoots) {
  auto candidate = testing::issueLeaf(newCa);
  auto cross = oldCa.crossSign(newCa.certificate(), fixtureNow()).value();
  EXPECT_THAT(check(candidate, newCa, {newCa.certificate(), oldCa.certificate()}, fixtureNow(), {cross}), IsEmpty());
  // Without the cross certificate the old root cannot verify: a named failure.
  EXPECT_THAT(checkNames(check(candidate, newCa, {newCa.certificate(), oldCa.certificate()})),
              ElementsAre("chains_to_root"));
}

TEST_F(CompatibilityTest, ReportsEachMismatchByName) {
  LeafSpec different = testing::leafSpec("other.example.com");
  different.ipAddresses = {"10.0.0.1"};
  auto candidate = testing::issueLeaf(newCa, different);
  EXPECT_THAT(checkNames(check(candidate, newCa, {newCa.certificate()})),
              UnorderedElementsAre("subject", "dns_names", "ip_addresses"));
}

TEST_F(CompatibilityTest, SanOrderDoesNotMatter) {
  LeafSpec reordered = testing::leafSpec();
  std::reverse(reordered.dnsNames.begin(), reordered.dnsNames.end());
  std::reverse(reordered.ipAddresses.begin(), reordered.ipAddresses.end());
  EXPECT_THAT(check(testing::issueLeaf(newCa, reordered), newCa, {newCa.certificate()}), IsEmpty());
}

TEST_F(CompatibilityTest, WrongKeyWrongRootAndExpiredCa) {
  auto candidate = testing::issueLeaf(newCa);
  testing::IssuedLeaf wrongKey{served.key, candidate.certificate};
  EXPECT_THAT(checkNames(check(wrongKey, newCa, {newCa.certificate()})), ElementsAre("key_matches"));
  EXPECT_THAT(checkNames(check(candidate, newCa, {oldCa.certificate()})), ElementsAre("chains_to_root"));
  auto findings = check(candidate, newCa, {newCa.certificate()}, fixtureNow() + 24h * 800);
  EXPECT_THAT(checkNames(findings), ::testing::Contains("ca_valid"));
  EXPECT_THAT(findings, ::testing::Each(Field(&Finding::message, ::testing::Not(IsEmpty()))));
}

TEST_F(CompatibilityTest, ValidityBeyondTheCaIsNamed) {
  // A certificate from another issuer with the same CA name cannot be clamped by it: simulate by
  // checking a long-lived leaf against a short-lived issuing CA.
  auto shortCa = testing::makeCa("Root 2026", 24h * 10);
  auto candidate = testing::issueLeaf(newCa);
  auto findings = checkCompatibility({.candidate = candidate.certificate,
                                      .intermediates = {},
                                      .key = &candidate.key,
                                      .previous = nullptr,
                                      .issuingCa = shortCa.certificate(),
                                      .roots = {},
                                      .at = fixtureNow()});
  EXPECT_THAT(checkNames(findings), ElementsAre("validity_within_ca"));
}

/** The check names of what checkImportedCa finds in `ca` with `key`, at `at`. */
std::vector<std::string> importChecks(const Certificate& ca, const PrivateKey& key, SystemTime at,
                                      Duration certificateValidity = 24h * 90) {
  std::vector<std::string> names;
  for (const Finding& f : checkImportedCa({ca, key, certificateValidity, at})) names.push_back(f.check);
  return names;
}

TEST(ImportedCaTest, AGoodCaPassesAndEachValidityProblemHasItsName) {
  const CertificateAuthority ca = testing::makeCa("Imported", 24h * 365);
  EXPECT_THAT(importChecks(ca.certificate(), ca.key(), fixtureNow()), IsEmpty());
  EXPECT_THAT(importChecks(ca.certificate(), ca.key(), fixtureNow() - 24h * 2), ElementsAre("ca_not_yet_valid"));
  EXPECT_THAT(importChecks(ca.certificate(), ca.key(), fixtureNow() + 24h * 366), ElementsAre("ca_expired"));
  // 300 days in, a 90-day certificate would outlive it.
  EXPECT_THAT(importChecks(ca.certificate(), ca.key(), fixtureNow() + 24h * 300),
              ElementsAre("ca_outlives_certificates"));
  const CertificateAuthority other = testing::makeCa("Other");
  EXPECT_THAT(importChecks(ca.certificate(), other.key(), fixtureNow()), ElementsAre("key_matches"));
  const auto leaf = testing::issueLeaf(ca);
  EXPECT_THAT(importChecks(leaf.certificate, leaf.key, fixtureNow()),
              ElementsAre("ca_basic_constraints", "ca_key_usage"));
}

TEST(ImportedCaTest, ACaWhoseKeyUsageLacksCertSignIsRefused) {
  // Made by the openssl CLI, as an operator's tooling would: CA:TRUE, but keyUsage digitalSignature only.
  testing::TempDir dir;
  const std::string cert = (dir.path() / "ca.crt").string(), key = (dir.path() / "ca.key").string();
  std::string output;
  ASSERT_EQ(testing::runShell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=NoSign "
                              "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,digitalSignature "
                              "-days 365 -keyout " +
                                  key + " -out " + cert,
                              &output),
            0)
      << output;
  auto certificate = Certificate::fromPem(dir.read("ca.crt"));
  auto privateKey = PrivateKey::fromPem(dir.read("ca.key"));
  ASSERT_TRUE(certificate.ok() && privateKey.ok());
  EXPECT_TRUE(certificate->hasCaBasicConstraints());
  EXPECT_FALSE(certificate->mayUseKeyForCertSign());
  EXPECT_THAT(importChecks(*certificate, *privateKey, certificate->notBefore() + 1h), ElementsAre("ca_key_usage"));
}

}  // namespace
}  // namespace rotor::pki
