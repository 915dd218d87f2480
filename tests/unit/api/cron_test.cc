#include "controller/api/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor::api {
namespace {

using rotor::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CronTest, MatchesListsRangesStepsAndNames) {
  auto s = CronSchedule::parse("*/15 2-4 * jan,JUL mon-fri");
  ASSERT_OK(s);
  EXPECT_TRUE(s->matches(30, 3, 10, 1, 2));
  EXPECT_FALSE(s->matches(31, 3, 10, 1, 2));
  EXPECT_FALSE(s->matches(30, 5, 10, 1, 2));
  EXPECT_FALSE(s->matches(30, 3, 10, 2, 2));
  EXPECT_FALSE(s->matches(30, 3, 10, 7, 0));
}

TEST(CronTest, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  auto s = CronSchedule::parse("0 0 1 * 0");
  ASSERT_OK(s);
  EXPECT_TRUE(s->matches(0, 0, 1, 3, 4));  // the 1st, a Thursday
  EXPECT_TRUE(s->matches(0, 0, 8, 3, 0));  // a Sunday
  EXPECT_FALSE(s->matches(0, 0, 9, 3, 1));
}

TEST(CronTest, MacrosAndSundayAsSeven) {
  EXPECT_TRUE(CronSchedule::parse("@daily")->matches(0, 0, 5, 5, 3));
  EXPECT_TRUE(CronSchedule::parse("0 0 * * 7")->matches(0, 0, 5, 5, 0));
}

TEST(CronTest, RejectsBadSchedulesNamingTheField) {
  EXPECT_THAT(CronSchedule::parse("* * * *"), StatusIs(Code::kInvalidArgument, HasSubstr("expected 5 fields")));
  EXPECT_THAT(CronSchedule::parse("60 * * * *"), StatusIs(Code::kInvalidArgument, "minute: 60 is outside 0-59"));
  EXPECT_THAT(CronSchedule::parse("* * 0 * *"), StatusIs(Code::kInvalidArgument, HasSubstr("day-of-month")));
  EXPECT_THAT(CronSchedule::parse("*/0 * * * *"), StatusIs(Code::kInvalidArgument, HasSubstr("step")));
  EXPECT_THAT(CronSchedule::parse("5-1 * * * *"), StatusIs(Code::kInvalidArgument, HasSubstr("backwards")));
  EXPECT_THAT(CronSchedule::parse("@sometimes"), StatusIs(Code::kInvalidArgument, HasSubstr("unknown macro")));
  EXPECT_THAT(CronSchedule::parse("* * * foo *"), StatusIs(Code::kInvalidArgument, HasSubstr("month")));
}

}  // namespace
}  // namespace rotor::api
