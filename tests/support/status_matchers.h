#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/common/status.h"

namespace rotor::testing {

inline const Status& toStatus(const Status& s) { return s; }
template <typename T>
const Status& toStatus(const StatusOr<T>& s) {
  static const Status kOk;
  return s.ok() ? kOk : s.status();
}

MATCHER_P(StatusIs, code, "has status code " + std::string(codeName(code))) {
  const Status& s = toStatus(arg);
  *result_listener << "status is " << s.toString();
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, messageMatcher, "has status code " + std::string(codeName(code))) {
  const Status& s = toStatus(arg);
  *result_listener << "status is " << s.toString();
  return s.code() == code && ::testing::ExplainMatchResult(messageMatcher, s.message(), result_listener);
}

/** A StatusOr that is ok and whose value matches `valueMatcher`. */
MATCHER_P(IsOkAndHolds, valueMatcher, "is ok and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().toString();
    return false;
  }
  return ::testing::ExplainMatchResult(valueMatcher, arg.value(), result_listener);
}

}  // namespace rotor::testing

#define EXPECT_OK(expr) EXPECT_THAT(::rotor::testing::toStatus(expr), ::rotor::testing::StatusIs(::rotor::Code::kOk))
#define ASSERT_OK(expr) ASSERT_THAT(::rotor::testing::toStatus(expr), ::rotor::testing::StatusIs(::rotor::Code::kOk))
/** `ASSERT_OK_AND_ASSIGN(auto x, f())`: binds the value of a StatusOr, or fails the test. */
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(ROTOR_CONCAT(rotor_test_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  ASSERT_OK(tmp);                                 \
  lhs = std::move(tmp).value()
