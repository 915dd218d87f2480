#include "controller/store/local/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::store::local {
namespace {

using namespace std::chrono_literals;
using rotor::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ProcessTest, RunsInTheWorkingDirectory) {
  rotor::testing::TempDir dir;
  ASSERT_OK(runCommand({"sh", "-c", "echo hi > out.txt"}, dir.path(), 5s));
  EXPECT_EQ(dir.read("out.txt"), "hi\n");
}

TEST(ProcessTest, NonZeroExitQuotesTheOutputTail) {
  EXPECT_THAT(runCommand({"sh", "-c", "echo nginx: bad config >&2; exit 3"}, "/", 5s),
              StatusIs(Code::kFailedPrecondition, HasSubstr("exited with status 3: nginx: bad config")));
  EXPECT_THAT(runCommand({"/nonexistent/reload"}, "/", 5s), StatusIs(Code::kFailedPrecondition, HasSubstr("127")));
}

TEST(ProcessTest, TimeoutKillsTheProcessGroup) {
  rotor::testing::TempDir dir;
  EXPECT_THAT(runCommand({"sh", "-c", "sleep 30 & sleep 30"}, dir.path(), 200ms),
              StatusIs(Code::kDeadlineExceeded, HasSubstr("killed")));
}

}  // namespace
}  // namespace rotor::store::local
