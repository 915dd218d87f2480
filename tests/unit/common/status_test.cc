#include "controller/common/status.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor {
namespace {

using testing::StatusIs;

StatusOr<int> half(int v) {
  if (v % 2 != 0) return invalidArgument("odd");
  return v / 2;
}

StatusOr<int> quarter(int v) {
  ASSIGN_OR_RETURN(int h, half(v));
  ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.toString(), "ok");
}

TEST(StatusTest, CarriesCodeAndMessageWithContext) {
  Status s = conflict("stale").withContext("write bundle");
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_EQ(s.message(), "write bundle: stale");
  EXPECT_EQ(s.toString(), "conflict: write bundle: stale");
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*quarter(8), 2);
  EXPECT_THAT(quarter(6), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(quarter(3), StatusIs(Code::kInvalidArgument, "odd"));
}

TEST(StatusTest, StatusOrRefusesOkStatusWithoutValue) {
  StatusOr<int> s = Status();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
}

TEST(StatusDeathTest, ValueOfAnErrorEndsTheProcessNamingTheStatus) {
  // Reading a value that is not there was undefined behaviour (an empty optional dereferenced).
  const StatusOr<std::string> missing = notFound("rotation edge/proxy");
  EXPECT_DEATH((void)missing.value(), "StatusOr::value\\(\\) on an error: .*rotation edge/proxy");
  EXPECT_DEATH((void)StatusOr<int>(unavailable("no answer")).value(), "no answer");
  EXPECT_EQ(StatusOr<int>(7).value(), 7);
}

}  // namespace
}  // namespace rotor
