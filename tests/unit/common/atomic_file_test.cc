#include "controller/common/atomic_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor {
namespace {

TEST(AtomicFileTest, ReplacesContentWithTheRequestedModeAndLeavesNoTemporaryFiles) {
  rotor::testing::TempDir dir;
  auto path = dir.path() / "key.pem";
  ASSERT_OK(writeFileAtomic(path, "one", kPrivateFileMode));
  ASSERT_OK(writeFileAtomic(path, "two", kPrivateFileMode));
  EXPECT_EQ(dir.read("key.pem"), "two");
  EXPECT_EQ(rotor::testing::permissionsOf(path), 0600u);
  EXPECT_EQ(rotor::testing::snapshotTree(dir.path()).size(), 1u);
}

TEST(AtomicFileTest, ReadsAbsentAsNullopt) {
  rotor::testing::TempDir dir;
  auto r = readFileIfExists(dir.path() / "missing");
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_value());
}

TEST(AtomicFileTest, EnsureDirectoryAppliesModeDespiteUmask) {
  rotor::testing::TempDir dir;
  ASSERT_OK(ensureDirectory(dir.path() / "a/b", kPrivateDirMode));
  EXPECT_EQ(rotor::testing::permissionsOf(dir.path() / "a/b"), 0700u);
}

TEST(AtomicFileTest, UnwritableDirectoryIsAClearError) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root ignores directory permissions";
  }
  rotor::testing::TempDir dir;
  ASSERT_OK(ensureDirectory(dir.path() / "ro", 0500));
  EXPECT_THAT(writeFileAtomic(dir.path() / "ro/x", "y", kPublicFileMode),
              rotor::testing::StatusIs(Code::kPermissionDenied));
}

}  // namespace
}  // namespace rotor
