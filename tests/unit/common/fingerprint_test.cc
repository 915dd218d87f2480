#include "controller/common/fingerprint.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor {
namespace {

using testing::StatusIs;

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(FingerprintTest, ParsesAndNormalises) {
  auto f = Fingerprint::parse("sha256:" + kHex);
  ASSERT_OK(f);
  EXPECT_EQ(f->toString(), "sha256:" + kHex);
  std::string upperWithColons;
  for (size_t i = 0; i < kHex.size(); i += 2) {
    if (i > 0) upperWithColons += ":";
    upperWithColons += static_cast<char>(std::toupper(kHex[i]));
    upperWithColons += static_cast<char>(std::toupper(kHex[i + 1]));
  }
  EXPECT_EQ(*Fingerprint::parse("sha256:" + upperWithColons), *f);
}

TEST(FingerprintTest, RejectsMalformed) {
  EXPECT_THAT(Fingerprint::parse(kHex), StatusIs(Code::kInvalidArgument, ::testing::HasSubstr("sha256:")));
  EXPECT_THAT(Fingerprint::parse("sha256:abc"), StatusIs(Code::kInvalidArgument, ::testing::HasSubstr("64")));
  EXPECT_THAT(Fingerprint::parse("sha256:" + kHex.substr(1) + "g"), StatusIs(Code::kInvalidArgument));
}

}  // namespace
}  // namespace rotor
