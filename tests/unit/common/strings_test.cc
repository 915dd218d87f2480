#include "controller/common/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "controller/common/log.h"
#include "tests/support/fake_clock.h"

namespace rotor {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(ValidUtf8Test, WellFormedTextIsKeptByteForByte) {
  for (const std::string text : {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x94\x91 key",
                                 "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(validUtf8(text), text);
  }
}

TEST(ValidUtf8Test, EveryIllFormedByteBecomesAReplacementCharacter) {
  struct Case {
    std::string in, out;
  };
  const std::vector<Case> cases = {
      {"\xFF", kReplacement},
      {"a\x80z", "a" + kReplacement + "z"},
      {"\xC3", kReplacement},                                                           // truncated
      {"\xC0\xAF", kReplacement + kReplacement},                                        // overlong "/"
      {"\xE0\x80\xAF", kReplacement + kReplacement + kReplacement},                     // overlong, three bytes
      {"\xED\xA0\x80", kReplacement + kReplacement + kReplacement},                     // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", kReplacement + kReplacement + kReplacement + kReplacement},  // past U+10FFFF
      {"\xC3\x28", kReplacement + "("},
  };
  for (const Case& c : cases) {
    const std::string got = validUtf8(c.in);
    EXPECT_EQ(got, c.out);
    EXPECT_FALSE(nlohmann::json(got).dump().empty());  // dump() throws on invalid UTF-8
  }
}

TEST(ValidUtf8Test, JsonLogLinesStayJsonWhateverBytesAFieldCarries) {
  rotor::testing::FakeClock clock;
  std::ostringstream out;
  Logger log(out, clock, LogLevel::kInfo, LogFormat::kJson);
  log.info("request \xC3", {{"path", "/v1/\xFF\xFE/agents/\xC0\xAF"}, {"agent", "caf\xC3\xA9"}});
  const auto line = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(line.is_discarded()) << out.str();
  EXPECT_EQ(line["agent"], "caf\xC3\xA9");
  EXPECT_EQ(line["path"], "/v1/" + kReplacement + kReplacement + "/agents/" + kReplacement + kReplacement);
}

TEST(QuoteForMessageTest, TruncatesLongValuesAndNeverSplitsIntoInvalidUtf8) {
  EXPECT_EQ(quoteForMessage("x"), "\"x\"");
  const std::string euros = std::string(63, 'a') + "\xE2\x82\xAC";  // the 64-byte cut falls inside the euro sign
  const std::string quoted = quoteForMessage(euros);
  EXPECT_EQ(quoted, "\"" + std::string(63, 'a') + kReplacement + "...\"");
}

}  // namespace
}  // namespace rotor
