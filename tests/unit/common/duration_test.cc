#include "controller/common/duration.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor {
namespace {

using namespace std::chrono_literals;
using testing::StatusIs;

struct ParseCase {
  std::string name;
  std::string text;
  Duration want;
};

class DurationParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(DurationParseTest, Parses) {
  auto d = parseDuration(GetParam().text);
  ASSERT_OK(d);
  EXPECT_EQ(*d, GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(Kubernetes, DurationParseTest,
                         ::testing::ValuesIn(std::vector<ParseCase>{
                             {"hours", "720h", 720h},
                             {"minutes", "90m", 90min},
                             {"mixed", "1h30m", 90min},
                             {"fraction", "1.5s", 1500ms},
                             {"milliseconds", "250ms", 250ms},
                             {"microseconds_truncate", "1500us", 1ms},
                             {"zero", "0", 0ms},
                             {"zero_with_unit", "0s", 0ms},
                             {"go_long_form", "2h0m0s", 2h},
                         }),
                         [](const auto& tc) { return tc.param.name; });

TEST(DurationTest, RejectsWhatKubernetesRejects) {
  for (const char* bad : {"", "10", "h", "10d", "1.2.3s", "-5m", "5 m", "1hh"}) {
    EXPECT_THAT(parseDuration(bad), StatusIs(Code::kInvalidArgument)) << bad;
  }
}

TEST(DurationTest, FormatsShortestFormThatReadsBack) {
  EXPECT_EQ(formatDuration(720h), "720h");
  EXPECT_EQ(formatDuration(90min), "1h30m");
  EXPECT_EQ(formatDuration(1500ms), "1s500ms");
  EXPECT_EQ(formatDuration(0ms), "0s");
  for (Duration d : {Duration(720h), Duration(90min), Duration(1500ms), Duration(3723001ms)}) {
    EXPECT_EQ(*parseDuration(formatDuration(d)), d);
  }
}

}  // namespace
}  // namespace rotor
