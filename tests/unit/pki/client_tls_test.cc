// The TLS client setup the Kubernetes client and the agent share: every credential is checked
// when it is configured, and an error names the file, never its content.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/pki/client_tls.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using rotor::testing::issueLeaf;
using rotor::testing::makeCa;
using rotor::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

class ClientTlsTest : public ::testing::Test {
protected:
  const CertificateAuthority ca_ = makeCa("agents CA");
  const rotor::testing::IssuedLeaf leaf_ = issueLeaf(ca_);
  const std::string keyPem_ = leaf_.key.toPem();
  rotor::testing::TempDir dir_;
};

TEST_F(ClientTlsTest, AcceptsACaAndAMatchingClientCertificate) {
  EXPECT_OK(ClientTls::fromPem("", "", ""));  // the system roots, no client certificate
  EXPECT_OK(ClientTls::fromPem(ca_.certificate().toPem(), leaf_.certificate.toPem(), keyPem_));
  EXPECT_OK(ClientTls::fromFiles(dir_.write("ca.crt", ca_.certificate().toPem()).string(),
                                 dir_.write("tls.crt", leaf_.certificate.toPem()).string(),
                                 dir_.write("tls.key", keyPem_).string()));
}

TEST_F(ClientTlsTest, RefusesWhatWouldHaveFailedSilentlyAtConnectionTime) {
  EXPECT_THAT(ClientTls::fromPem("not a certificate", "", ""),
              StatusIs(Code::kInvalidArgument, HasSubstr("certificate authority")));
  const std::string otherKey = rotor::testing::issueLeaf(makeCa("other")).key.toPem();
  EXPECT_THAT(ClientTls::fromPem("", leaf_.certificate.toPem(), otherKey),
              StatusIs(Code::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(ClientTls::fromPem("", leaf_.certificate.toPem(), ""),
              StatusIs(Code::kInvalidArgument, HasSubstr("needs its key")));
  auto missing = ClientTls::fromFiles((dir_.path() / "absent.crt").string(), "", "");
  EXPECT_THAT(missing, StatusIs(Code::kInvalidArgument, HasSubstr("absent.crt cannot be read")));
  // A key in the CA's place: the file is named, its content never.
  auto swapped = ClientTls::fromFiles(dir_.write("swapped.crt", keyPem_).string(), "", "");
  EXPECT_THAT(swapped, StatusIs(Code::kInvalidArgument, HasSubstr("swapped.crt")));
  EXPECT_THAT(swapped.status().message(), Not(HasSubstr("BEGIN")));
  EXPECT_THAT(swapped.status().message(), Not(HasSubstr(keyPem_.substr(keyPem_.find('\n') + 1, 32))));
}

}  // namespace
}  // namespace rotor::pki
