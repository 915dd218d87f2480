// reconcilers/ must build without cpprest, sockets, the Kubernetes client or the wall clock:
// they see the world only through the Store, the PKI library and an injected Clock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/temp_dir.h"

namespace rotor {
namespace {

/**
 * Whether one line of reconcilers/ breaks the boundary: rotor headers only from api/, common/,
 * pki/ and the Store interface (not a backend, the adoption server, the CLI or the manager); no
 * networking or HTTP library; no clock or randomness but the injected ones.
 */
bool crossesTheBoundary(const std::string& line) {
  static const std::regex kRotorInclude(R"re(#include\s*"controller/([^"]+)")re");
  static const std::regex kAllowed(R"((api|common|pki)/[^/]+|store/[^/]+)");
  static const std::regex kForbidden(
      R"(#include\s*<(cpprest/|boost/|sys/socket\.h|netinet/|arpa/)|system_clock::now|steady_clock::now|\btime\(nullptr\)|\brand\(|random_device)");
  std::smatch include;
  if (std::regex_search(line, include, kRotorInclude) && !std::regex_match(include[1].str(), kAllowed)) return true;
  return std::regex_search(line, kForbidden);
}

TEST(ReconcilerBoundaryTest, NoForbiddenIncludesOrWallClock) {
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
      EXPECT_FALSE(crossesTheBoundary(line)) << entry.path() << ":" << n << ": " << line;
    }
  }
  EXPECT_GT(files, 0);
}

/** Whether one line names the whole Store rather than a role of it (store::BundleStore and the
 *  like): only RotationContext's constructor may, to bind the roles. */
bool namesTheWholeStore(const std::string& line) {
  static const std::regex kWholeStore(R"(\bstore::Store\b|\bStorePtr\b)");
  return std::regex_search(line, kWholeStore);
}

TEST(ReconcilerBoundaryTest, PhasesAndHelpersSeeTheStoreByRole) {
  const auto dir = rotor::testing::sourceDir() / "reconcilers";
  int wholeStore = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    std::ifstream in(entry.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (!namesTheWholeStore(line)) continue;
      if (entry.path().filename() == "context.h") {
        ++wholeStore;
        continue;
      }
      ADD_FAILURE() << entry.path() << ":" << n << ": takes the whole Store; take the roles it uses: " << line;
    }
  }
  EXPECT_EQ(wholeStore, 1) << "RotationContext's constructor binds the roles from one Store";
  EXPECT_TRUE(namesTheWholeStore("Status f(store::Store& store);"));
  EXPECT_FALSE(namesTheWholeStore("Status f(store::BundleStore& bundles);"));
  EXPECT_FALSE(namesTheWholeStore("ctx.bundles.readBundle(r)"));
}

TEST(ReconcilerBoundaryTest, TheRuleCatchesWhatItMustCatch) {
  for (const char* line : {"#include <cpprest/http_client.h>", "#include <boost/asio.hpp>", "#include <sys/socket.h>",
                           "#include \"controller/kube/client.h\"", "#include \"controller/store/local/local_store.h\"",
                           "#include \"controller/store/kube/kube_store.h\"",
                           "#include \"controller/adoption/registry.h\"", "#include \"controller/cli/commands.h\"",
                           "#include \"controller/manager/manager.h\"", "#include \"controller/agent/agent.h\"",
                           "auto t = std::chrono::system_clock::now();", "std::random_device seed;"}) {
    EXPECT_TRUE(crossesTheBoundary(line)) << line;
  }
  for (const char* line :
       {"#include \"controller/store/store.h\"", "#include \"controller/pki/authority.h\"",
        "#include \"controller/api/rotation.h\"", "#include \"controller/common/clock.h\"",
        "#include \"reconcilers/context.h\"", "#include <vector>", "const SystemTime now = clock.now();"}) {
    EXPECT_FALSE(crossesTheBoundary(line)) << line;
  }
}

}  // namespace
}  // namespace rotor
