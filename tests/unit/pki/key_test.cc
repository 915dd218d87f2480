#include "controller/pki/key.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::pki {
namespace {

using ::testing::HasSubstr;
using testing::StatusIs;

struct KeyCase {
  std::string name;
  KeySpec spec;
};

class KeyGenerationTest : public ::testing::TestWithParam<KeyCase> {};

TEST_P(KeyGenerationTest, GeneratesAndRoundTripsThroughPem) {
  auto key = PrivateKey::generate(GetParam().spec);
  ASSERT_OK(key);
  EXPECT_EQ(key->spec(), GetParam().spec);
  std::string pem = key->toPem();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  auto back = PrivateKey::fromPem(pem);
  ASSERT_OK(back);
  EXPECT_EQ(back->publicKeyFingerprint(), key->publicKeyFingerprint());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KeyGenerationTest,
                         ::testing::ValuesIn(std::vector<KeyCase>{
                             {"ecdsa_p256", {KeyAlgorithm::kEcdsa, 256}},
                             {"ecdsa_p384", {KeyAlgorithm::kEcdsa, 384}},
                             {"rsa_2048", {KeyAlgorithm::kRsa, 2048}},
                             {"rsa_3072", {KeyAlgorithm::kRsa, 3072}},
                             {"rsa_4096", {KeyAlgorithm::kRsa, 4096}},
                             {"ed25519", {KeyAlgorithm::kEd25519, 0}},
                         }),
                         [](const auto& tc) { return tc.param.name; });

TEST(KeyTest, RejectsUnsupportedSizes) {
  EXPECT_THAT(PrivateKey::generate({KeyAlgorithm::kEcdsa, 521}),
              StatusIs(Code::kInvalidArgument, HasSubstr("256 or 384")));
  EXPECT_THAT(PrivateKey::generate({KeyAlgorithm::kRsa, 1024}), StatusIs(Code::kInvalidArgument, HasSubstr("2048")));
}

TEST(KeyTest, RejectsGarbageAndEncryptedPem) {
  EXPECT_THAT(PrivateKey::fromPem("not a key"), StatusIs(Code::kInvalidArgument, HasSubstr("invalid PEM private key")));
  std::string pem = PrivateKey::generate({}).value().toPem();
  std::string truncated = pem.substr(0, pem.size() / 2);
  EXPECT_THAT(PrivateKey::fromPem(truncated), StatusIs(Code::kInvalidArgument));
  const char* encrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
      "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiP8N6Ui1MGTAICCAAw\n"
      "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEHXN1vV3rVrC3V8Q4hPZ0jsEgZDZ\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  EXPECT_THAT(PrivateKey::fromPem(encrypted), StatusIs(Code::kInvalidArgument));
}

TEST(KeyTest, DistinctKeysHaveDistinctFingerprints) {
  EXPECT_NE(PrivateKey::generate({})->publicKeyFingerprint(), PrivateKey::generate({})->publicKeyFingerprint());
}

}  // namespace
}  // namespace rotor::pki

namespace rotor::pki {
namespace {

TEST(KeyTest, RejectsCurvesRotorDoesNotUse) {
  std::string pem;
  ASSERT_EQ(
      rotor::testing::runShell("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 2>/dev/null", &pem),
      0);
  EXPECT_THAT(PrivateKey::fromPem(pem),
              rotor::testing::StatusIs(Code::kInvalidArgument, ::testing::HasSubstr("unsupported")));
}

}  // namespace
}  // namespace rotor::pki
