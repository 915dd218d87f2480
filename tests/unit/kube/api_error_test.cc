#include "controller/kube/api_error.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/kube_transcript.h"

namespace rotor::kube {
namespace {

using rotor::testing::loadTranscript;

using ApiErrorTest = ::testing::Test;

// Every error answer recorded from a real API server, and the code rotor must see for it.
TEST_F(ApiErrorTest, EveryRecordedErrorDecodesToItsCode) {
  const std::vector<std::pair<std::string, Code>> cases = {
      {"06-cr-create-already-exists.http", Code::kAlreadyExists},
      {"13-cr-update-put-stale.http", Code::kConflict},
      {"15-cr-update-put-missing.http", Code::kNotFound},
      {"20-cr-json-patch-test-failed.http", Code::kInvalidArgument},
      {"21-cr-strategic-merge-patch-415.http", Code::kInvalidArgument},
      {"22-cr-merge-patch-stale-resourceversion.http", Code::kConflict},
      {"25-cr-create-invalid-schema.http", Code::kInvalidArgument},
      {"26-cr-create-threshold-below-minimum.http", Code::kInvalidArgument},
      {"27-cr-create-unknown-field-strict.http", Code::kInvalidArgument},
      {"30-cr-get-not-found.http", Code::kNotFound},
      {"31-forbidden-limited-user.http", Code::kPermissionDenied},
      {"32-unauthorized-bad-token.http", Code::kUnauthenticated},
      {"33-anonymous-no-token.http", Code::kPermissionDenied},
      {"45-list-compacted-resourceversion.http", Code::kGone},
      {"51-secret-update-stale.http", Code::kConflict},
      {"54-configmap-update-stale.http", Code::kConflict},
      {"57-event-rejected.http", Code::kInvalidArgument},
      {"61-lease-update-stale.http", Code::kConflict},
      {"69-cr-delete-precondition-failed.http", Code::kConflict},
      {"70-cr-delete-not-found.http", Code::kNotFound},
      {"74-ssa-apply-conflict.http", Code::kConflict},
      {"77-ssa-apply-missing-fieldmanager.http", Code::kInvalidArgument},
      {"78-cr-create-namespace-not-found.http", Code::kNotFound},
      {"79-cr-create-invalid-name.http", Code::kInvalidArgument},
      {"80-unknown-resource-404.http", Code::kNotFound},
      {"81-cr-create-namespace-mismatch.http", Code::kInvalidArgument},
  };
  for (const auto& [file, code] : cases) {
    int errors = 0;
    for (const auto& exchange : loadTranscript(file)) {
      if (exchange.status() < 400) continue;
      ++errors;
      const ApiError e = decodeApiError(exchange.status(), exchange.response.body);
      EXPECT_EQ(e.code(), code) << file << " " << exchange.method() << " " << exchange.target() << ": " << e.reason;
      EXPECT_EQ(e.httpStatus, exchange.status());
      EXPECT_FALSE(e.toStatus().message().empty());
    }
    EXPECT_GT(errors, 0) << file << " has no error answer";
  }
}

TEST_F(ApiErrorTest, ValidationCausesKeepTheirFields) {
  const auto exchange = loadTranscript("25-cr-create-invalid-schema.http").back();
  const ApiError e = decodeApiError(exchange.status(), exchange.response.body);
  EXPECT_EQ(e.reason, "Invalid");
  ASSERT_EQ(e.causes.size(), 4u);
  EXPECT_EQ(e.causes[0].field, "spec.adoption.threshold");
  EXPECT_EQ(e.causes[3].reason, "FieldValueRequired");
  EXPECT_NE(e.toStatus().message().find("spec.server.commonName: Required value"), std::string::npos);
}

TEST_F(ApiErrorTest, AnExpiredWatchIsGoneSoThatTheReflectorRelists) {
  const auto exchange = loadTranscript("42-watch-too-old-resourceversion.http").front();
  const auto event = nlohmann::json::parse(exchange.response.body.substr(0, exchange.response.body.find('\n')));
  ASSERT_EQ(event.at("type"), "ERROR");
  const ApiError e = decodeStatusObject(event.at("object"));
  EXPECT_EQ(e.code(), Code::kGone);
  EXPECT_EQ(e.httpStatus, 410);
  EXPECT_EQ(e.reason, "Expired");
}

TEST(ApiErrorWithoutStatusTest, TheHttpStatusAndRetryAfterDecideWithoutABody) {
  const ApiError throttled = decodeApiError(429, "Too many requests, please try again later.\n", "7");
  EXPECT_EQ(throttled.code(), Code::kUnavailable);
  EXPECT_EQ(throttled.retryAfterSeconds, 7);
  EXPECT_EQ(decodeApiError(503, "").code(), Code::kUnavailable);
  EXPECT_EQ(decodeApiError(410, "").code(), Code::kGone);
  const ApiError fromDetails = decodeApiError(
      429,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","details":{"retryAfterSeconds":3},"code":429})");
  EXPECT_EQ(fromDetails.retryAfterSeconds, 3);
  EXPECT_EQ(fromDetails.code(), Code::kUnavailable);
}

}  // namespace
}  // namespace rotor::kube
