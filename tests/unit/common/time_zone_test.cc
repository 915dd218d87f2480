#include "controller/common/time_zone.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

#include "tests/support/status_matchers.h"

namespace rotor {
namespace {

using rotor::testing::StatusIs;

/** glibc's own answer, as the oracle: offset east of UTC at `t` in `zone`. */
long glibcOffset(const char* zone, time_t t) {
  setenv("TZ", zone, 1);
  tzset();
  std::tm tm{};
  localtime_r(&t, &tm);
  unsetenv("TZ");
  tzset();
  return tm.tm_gmtoff;
}

class TimeZoneOracleTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TimeZoneOracleTest, AgreesWithGlibcEvery97HoursFrom1970To2060) {
  auto zone = TimeZone::load(GetParam());
  ASSERT_OK(zone);
  int checked = 0;
  for (int64_t t = 0; t < 2'871'763'200; t += 97 * 3600 + 7) {  // to 2061, past every fat file's table
    const auto at = std::chrono::system_clock::from_time_t(static_cast<time_t>(t));
    ASSERT_EQ(zone->utcOffset(at), glibcOffset(GetParam(), static_cast<time_t>(t))) << GetParam() << " at " << t;
    ++checked;
  }
  EXPECT_GT(checked, 8000);
}

INSTANTIATE_TEST_SUITE_P(Zones, TimeZoneOracleTest,
                         ::testing::Values("Europe/Paris", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                                           "America/Sao_Paulo", "Pacific/Chatham", "UTC"),
                         [](const auto& tc) {
                           std::string n = tc.param;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(TimeZoneTest, CivilTimeAcrossTheParisSpringForwardGap) {
  auto paris = TimeZone::load("Europe/Paris");
  ASSERT_OK(paris);
  // 2026-03-29 01:00:00Z is when Paris moves from 02:00 CET to 03:00 CEST.
  const auto before = std::chrono::system_clock::from_time_t(1774746000 - 1);
  const auto after = std::chrono::system_clock::from_time_t(1774746000);
  EXPECT_EQ(paris->toCivil(before).hour, 1);
  EXPECT_EQ(paris->toCivil(before).minute, 59);
  EXPECT_EQ(paris->toCivil(after).hour, 3);
  EXPECT_EQ(paris->toCivil(after).weekday, 0);  // a Sunday
}

TEST(TimeZoneTest, PosixFooterRulesMatchGlibc) {
  auto rule = PosixRule::parse("AEST-10AEDT,M10.1.0,M4.1.0/3");
  ASSERT_OK(rule);
  for (int64_t t = 4'102'444'800; t < 4'102'444'800 + 2 * 365 * 86400; t += 3 * 3600 + 1) {  // 2100-2101
    ASSERT_EQ(rule->offsetAt(t), glibcOffset("AEST-10AEDT,M10.1.0,M4.1.0/3", static_cast<time_t>(t))) << t;
  }
  EXPECT_THAT(PosixRule::parse("XYZ"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(PosixRule::parse("CET-1CEST,J60,J300"), StatusIs(Code::kInvalidArgument));
}

TEST(TimeZoneTest, UnknownAndDamagedZonesAreClearErrors) {
  EXPECT_THAT(TimeZone::load("Mars/Olympus_Mons"),
              StatusIs(Code::kNotFound, ::testing::HasSubstr("Mars/Olympus_Mons")));
  EXPECT_THAT(TimeZone::load("../etc/passwd"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(TimeZone::fromTzif("Bad/Zone", "TZif2 but far too short"),
              StatusIs(Code::kInvalidArgument, ::testing::HasSubstr("Bad/Zone")));
}

}  // namespace
}  // namespace rotor
