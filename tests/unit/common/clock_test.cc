#include "controller/common/clock.h"

#include <gtest/gtest.h>

namespace rotor {
namespace {

TEST(ClockTest, FormatsAndParsesRfc3339) {
  SystemTime t = std::chrono::system_clock::from_time_t(1795342500);
  EXPECT_EQ(formatRfc3339(t), "2026-11-22T10:15:00Z");
  EXPECT_EQ(formatCompactUtc(t), "20261122-101500");
  SystemTime parsed;
  ASSERT_TRUE(parseRfc3339("2026-11-22T10:15:00Z", parsed));
  EXPECT_EQ(parsed, t);
  ASSERT_TRUE(parseRfc3339("2026-11-22T11:15:00.123+01:00", parsed));
  EXPECT_EQ(parsed, t);
}

TEST(ClockTest, RejectsMalformedTimestamps) {
  SystemTime t;
  // Years past 2262 do not fit SystemTime (found by the fuzzer: 9999-... overflowed).
  for (const char* bad : {"", "2026-11-22", "2026-11-22T10:15:00", "2026-13-22T10:15:00Z", "yesterday",
                          "9999-12-31T23:59:59Z", "1500-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parseRfc3339(bad, t)) << bad;
  }
}

TEST(ClockTest, TruncatesToSeconds) {
  SystemTime t = std::chrono::system_clock::from_time_t(100) + std::chrono::milliseconds(999);
  EXPECT_EQ(truncateToSeconds(t), std::chrono::system_clock::from_time_t(100));
}

}  // namespace
}  // namespace rotor

namespace rotor {
namespace {

TEST(SleepUnlessStoppedTest, SleepsTheWholeTimeUnlessStopped) {
  std::stop_source source;
  EXPECT_TRUE(sleepUnlessStopped(source.get_token(), std::chrono::milliseconds(1)));
  source.request_stop();
  // Already stopped: a day-long sleep returns at once, reporting the stop.
  EXPECT_FALSE(sleepUnlessStopped(source.get_token(), std::chrono::hours(24)));
}

}  // namespace
}  // namespace rotor
