// reconcilers/ must build without cpprest, sockets, the Kubernetes client or the wall clock:
// they see the world only through the Store, the PKI library and an injected Clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace rotor {
namespace {

TEST(ReconcilerBoundaryTest, NoForbiddenIncludesOrWallClock) {
  const std::regex forbidden(
      R"((#include\s*[<"](cpprest/|boost/|sys/socket\.h|netinet/|controller/kube/|controller/store/local/))|system_clock::now|steady_clock::now|\btime\(nullptr\)|\brand\()");
  const auto dir = rotor::testing::sourceDir() / "reconcilers";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    ++files;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      EXPECT_FALSE(std::regex_search(line, forbidden)) << entry.path() << ":" << n << ": " << line;
    }
  }
  EXPECT_GT(files, 0);
}

TEST(ReconcilerBoundaryTest, ThePatternCatchesWhatItMustCatch) {
  // Guard against a regex that silently matches nothing.
  const std::regex forbidden(R"(#include\s*[<"](cpprest/|sys/socket\.h)|system_clock::now)");
  EXPECT_TRUE(std::regex_search("#include <cpprest/http_client.h>", forbidden));
  EXPECT_TRUE(std::regex_search("auto t = std::chrono::system_clock::now();", forbidden));
  EXPECT_FALSE(std::regex_search("#include \"controller/store/store.h\"", forbidden));
}

}  // namespace
}  // namespace rotor
