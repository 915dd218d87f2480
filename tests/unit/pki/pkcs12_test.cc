#include "controller/pki/pkcs12.h"

#include <gtest/gtest.h>

#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

std::string asString(const std::vector<uint8_t>& der) { return std::string(der.begin(), der.end()); }

class Pkcs12Test : public ::testing::Test {
protected:
  CertificateAuthority oldCa = testing::makeCa("Root 2025");
  CertificateAuthority newCa = testing::makeCa("Root 2026");
  testing::IssuedLeaf leaf = testing::issueLeaf(newCa);
  testing::TempDir dir;
};

TEST_F(Pkcs12Test, KeystoreIsReadByOpensslAndKeytool) {
  auto der =
      exportKeystore(leaf.key, leaf.certificate, std::vector<Certificate>{newCa.certificate()}, "s3cret", "proxy");
  ASSERT_OK(der);
  auto path = dir.write("keystore.p12", asString(*der));
  std::string out;
  ASSERT_EQ(testing::runShell("openssl pkcs12 -in " + path.string() + " -passin pass:s3cret -nokeys -info", &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("friendlyName: proxy"));
  EXPECT_THAT(out, HasSubstr("subject=CN = proxy.example.com"));
  EXPECT_THAT(out, HasSubstr("subject=CN = Root 2026"));
  ASSERT_EQ(
      testing::runShell("keytool -list -v -storetype PKCS12 -keystore " + path.string() + " -storepass s3cret", &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("Alias name: proxy"));
  EXPECT_THAT(out, HasSubstr("PrivateKeyEntry"));
  EXPECT_THAT(out, HasSubstr("Certificate chain length: 2"));

  auto certs = readPkcs12Certificates(*der, "s3cret");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0].fingerprint(), leaf.certificate.fingerprint());
}

TEST_F(Pkcs12Test, TruststoreEntriesAreTrustedCertEntriesForJava) {
  std::vector<Certificate> roots = {oldCa.certificate(), newCa.certificate()};
  auto der = exportTruststore(roots, "changeit");
  ASSERT_OK(der);
  auto path = dir.write("truststore.p12", asString(*der));
  std::string out;
  ASSERT_EQ(
      testing::runShell("keytool -list -storetype PKCS12 -keystore " + path.string() + " -storepass changeit", &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("Your keystore contains 2 entries"));
  EXPECT_THAT(out, HasSubstr("root 2025"));  // keytool lower-cases aliases
  EXPECT_THAT(out, HasSubstr("trustedCertEntry"));
  ASSERT_EQ(testing::runShell("openssl pkcs12 -in " + path.string() + " -passin pass:changeit -nokeys", &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("Root 2025"));
  auto certs = readPkcs12Certificates(*der, "changeit");
  ASSERT_OK(certs);
  EXPECT_EQ(certs->size(), 2u);
}

TEST_F(Pkcs12Test, WrongPasswordAndGarbageAreErrors) {
  auto der = exportTruststore(std::vector<Certificate>{oldCa.certificate()}, "right").value();
  EXPECT_THAT(readPkcs12Certificates(der, "wrong"), StatusIs(Code::kInvalidArgument, HasSubstr("password")));
  std::vector<uint8_t> garbage = {1, 2, 3};
  EXPECT_THAT(readPkcs12Certificates(garbage, "x"), StatusIs(Code::kInvalidArgument));
}

TEST_F(Pkcs12Test, KeystoreRefusesAKeyThatDoesNotMatch) {
  EXPECT_THAT(exportKeystore(newCa.key(), leaf.certificate, {}, "x", "proxy"), StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rotor::pki
