#include "controller/api/json_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "controller/api/yaml_codec.h"
#include "tests/support/full_status.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::api {
namespace {

using rotor::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;

json minimal() {
  return json::parse(R"({
    "apiVersion": "rotor.dev/v1alpha1", "kind": "CertificateRotation",
    "metadata": {"name": "proxy"},
    "spec": {"certificate": {"commonName": "proxy.example.com"},
             "servers": [{"name": "a", "certFile": "a.crt", "keyFile": "a.key"}],
             "ca": {"generate": {"commonName": "Root"}},
             "trustBundle": {"file": "bundle.pem"}}})");
}

TEST(JsonCodecTest, AppliesDefaults) {
  auto r = decodeRotation(minimal());
  ASSERT_OK(r);
  EXPECT_EQ(r->metadata.ns, "default");
  EXPECT_EQ(r->spec.adoption.threshold, 100);
  EXPECT_EQ(r->spec.certificate.validity, std::chrono::hours(24 * 90));
  EXPECT_EQ(r->spec.certificate.privateKey, (KeySpec{KeyAlgorithm::kEcdsa, 256}));
  EXPECT_EQ(r->status.phase, Phase::kPending);
}

TEST(JsonCodecTest, RoundTripsEverythingIncludingStatus) {
  auto rotations = decodeManifests(rotor::testing::readSourceFile("examples/local-nginx.yaml"));
  ASSERT_OK(rotations);
  CertificateRotation r = rotations->front();
  r.metadata.resourceVersion = "7";
  r.metadata.generation = 3;
  r.status = rotor::testing::everyStatusField();
  r.spec.prune.waitForExpiry = true;
  auto back = decodeRotation(encodeRotation(r));
  ASSERT_OK(back);
  EXPECT_EQ(*back, r);
  auto viaYaml = decodeManifests(rotationToYaml(r));
  ASSERT_OK(viaYaml);
  EXPECT_EQ(viaYaml->front(), r);
}

TEST(JsonCodecTest, NamesFieldAndReasonForRangeAndTypeErrors) {
  json j = minimal();
  j["spec"]["adoption"] = {{"threshold", 500}};
  EXPECT_THAT(decodeRotation(j),
              StatusIs(Code::kInvalidArgument, "spec.adoption.threshold: must be between 1 and 100, got 500"));
  j["spec"]["adoption"] = {{"threshold", "90"}};
  EXPECT_THAT(decodeRotation(j), StatusIs(Code::kInvalidArgument,
                                          HasSubstr("spec.adoption.threshold: must be an integer, got string \"90\"")));
  j["spec"]["adoption"] = {{"staleAfter", "10d"}};
  EXPECT_THAT(decodeRotation(j),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.adoption.staleAfter: invalid duration \"10d\"")));
}

TEST(JsonCodecTest, RejectsUnknownFieldsWithTheirPath) {
  json j = minimal();
  j["spec"]["adoption"] = {{"treshold", 90}};
  j["spec"]["servers"][0]["certfile"] = "x";
  auto r = decodeRotation(j);
  EXPECT_THAT(r, StatusIs(Code::kInvalidArgument, HasSubstr("spec.adoption.treshold: unknown field")));
  EXPECT_THAT(r, StatusIs(Code::kInvalidArgument, HasSubstr("spec.servers[0].certfile: unknown field")));
}

TEST(JsonCodecTest, RejectsWrongKindAndMissingSpec) {
  json j = minimal();
  j["kind"] = "Certificate";
  j.erase("spec");
  auto r = decodeRotation(j);
  EXPECT_THAT(r, StatusIs(Code::kInvalidArgument, HasSubstr("kind: must be \"CertificateRotation\"")));
  EXPECT_THAT(r, StatusIs(Code::kInvalidArgument, HasSubstr("spec: is required")));
  EXPECT_THAT(rotationFromJson("{not json"), StatusIs(Code::kInvalidArgument, HasSubstr("invalid JSON")));
}

}  // namespace
}  // namespace rotor::api
