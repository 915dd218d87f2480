#include "controller/pki/bundle.h"

#include <gtest/gtest.h>

#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"

namespace rotor::pki {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

class BundleTest : public ::testing::Test {
protected:
  CertificateAuthority a = testing::makeCa("Root A");
  CertificateAuthority b = testing::makeCa("Root B");
};

TEST_F(BundleTest, ReadsManyCertificatesInOrderWithComments) {
  std::string pem = "# Root A\n" + a.certificate().toPem() + "\n\n# Root B\n" + b.certificate().toPem();
  auto certs = parsePemBundle(pem);
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0].fingerprint(), a.certificate().fingerprint());
  EXPECT_EQ((*certs)[1].fingerprint(), b.certificate().fingerprint());
  EXPECT_EQ(writePemBundle(*certs), a.certificate().toPem() + b.certificate().toPem());
}

TEST_F(BundleTest, EmptyInputIsAnEmptyBundle) {
  EXPECT_TRUE(parsePemBundle("")->empty());
  EXPECT_TRUE(parsePemBundle(" \n\t\n")->empty());
}

TEST_F(BundleTest, RejectsAPrivateKeyBlockNamingIt) {
  std::string pem = a.certificate().toPem() + a.key().toPem();
  EXPECT_THAT(parsePemBundle(pem), StatusIs(Code::kInvalidArgument, "PEM block 2 is a PRIVATE KEY, not a CERTIFICATE"));
}

TEST_F(BundleTest, RejectsTextOutsideBlocks) {
  EXPECT_THAT(parsePemBundle("hello\n" + a.certificate().toPem()),
              StatusIs(Code::kInvalidArgument, HasSubstr("not a PEM block")));
  EXPECT_THAT(parsePemBundle("garbage"), StatusIs(Code::kInvalidArgument));
}

TEST_F(BundleTest, RejectsTruncatedAndCorruptBlocks) {
  std::string pem = a.certificate().toPem();
  EXPECT_THAT(parsePemBundle(pem.substr(0, pem.size() - 30)), StatusIs(Code::kInvalidArgument, HasSubstr("truncated")));
  std::string corrupt = pem;
  corrupt[70] = corrupt[70] == 'A' ? 'B' : 'A';
  corrupt[71] = '*';
  EXPECT_THAT(parsePemBundle(b.certificate().toPem() + corrupt),
              StatusIs(Code::kInvalidArgument, HasSubstr("PEM block 2")));
}

TEST_F(BundleTest, UnionKeepsOrderAndDropsDuplicates) {
  std::vector<Certificate> first = {a.certificate()};
  std::vector<Certificate> second = {b.certificate(), a.certificate()};
  auto both = unionOf(first, second);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].fingerprint(), a.certificate().fingerprint());
  EXPECT_EQ(both[1].fingerprint(), b.certificate().fingerprint());
}

TEST_F(BundleTest, FingerprintMatchesOpensslCli) {
  // sha256 over DER, the same value `openssl x509 -fingerprint -sha256` prints.
  std::string hex = a.certificate().fingerprint().hex();
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(a.certificate().fingerprint().toString(), "sha256:" + hex);
}

}  // namespace
}  // namespace rotor::pki
