#include "controller/pki/verify.h"

#include <gtest/gtest.h>

#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using namespace std::chrono_literals;
using testing::fixtureNow;
using ::testing::HasSubstr;
using testing::StatusIs;

class VerifyTest : public ::testing::Test {
protected:
  CertificateAuthority ca = testing::makeCa("Root");
  testing::IssuedLeaf leaf = testing::issueLeaf(ca);
  std::span<const Certificate> roots() const { return std::span(&ca.certificate(), 1); }
};

TEST_F(VerifyTest, AcceptsAValidChain) { EXPECT_OK(verifyChain(leaf.certificate, {}, roots(), fixtureNow())); }

TEST_F(VerifyTest, RejectsExpiredCertificate) {
  EXPECT_THAT(verifyChain(leaf.certificate, {}, roots(), fixtureNow() + 24h * 91),
              StatusIs(Code::kFailedPrecondition, HasSubstr("certificate has expired (depth 0")));
}

TEST_F(VerifyTest, RejectsNotYetValidCertificate) {
  EXPECT_THAT(verifyChain(leaf.certificate, {}, roots(), fixtureNow() - 1h),
              StatusIs(Code::kFailedPrecondition, HasSubstr("not yet valid")));
}

TEST_F(VerifyTest, RejectsWrongRoot) {
  auto other = testing::makeCa("Other Root");
  EXPECT_THAT(verifyChain(leaf.certificate, {}, std::span(&other.certificate(), 1), fixtureNow()),
              StatusIs(Code::kFailedPrecondition, HasSubstr("unable to get local issuer certificate")));
}

TEST_F(VerifyTest, RejectsEmptyRootSet) {
  EXPECT_THAT(verifyChain(leaf.certificate, {}, {}, fixtureNow()), StatusIs(Code::kInvalidArgument));
}

TEST_F(VerifyTest, RejectsCaCertificateForServerPurposeButAcceptsForAny) {
  auto other = testing::makeCa("Intermediate-ish");
  auto cross = ca.crossSign(other.certificate(), fixtureNow()).value();
  EXPECT_OK(verifyChain(cross, {}, roots(), fixtureNow(), Purpose::kAny));
}

TEST_F(VerifyTest, KeyMatchChecks) {
  EXPECT_TRUE(leaf.certificate.matchesKey(leaf.key));
  EXPECT_FALSE(leaf.certificate.matchesKey(ca.key()));
}

TEST(DerTest, RoundTripsAndRejectsTruncationAndTrailingBytes) {
  auto ca = testing::makeCa("Root");
  std::vector<uint8_t> der = ca.certificate().toDer();
  auto back = Certificate::fromDer(der);
  ASSERT_OK(back);
  EXPECT_EQ(back->fingerprint(), ca.certificate().fingerprint());
  std::vector<uint8_t> truncated(der.begin(), der.begin() + static_cast<long>(der.size() / 2));
  EXPECT_THAT(Certificate::fromDer(truncated), StatusIs(Code::kInvalidArgument, HasSubstr("invalid DER")));
  std::vector<uint8_t> trailing = der;
  trailing.push_back(0);
  EXPECT_THAT(Certificate::fromDer(trailing), StatusIs(Code::kInvalidArgument, HasSubstr("trailing")));
  EXPECT_THAT(Certificate::fromDer({}), StatusIs(Code::kInvalidArgument));
}

TEST(DerTest, GarbagePemIsAnError) {
  EXPECT_THAT(Certificate::fromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(Certificate::fromPem(""), StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rotor::pki
