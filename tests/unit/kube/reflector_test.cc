// The Reflector against the fake API server over HTTPS: list, watch, relist after 410.
#include "controller/kube/reflector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "tests/support/eventually.h"
#include "tests/support/fake_cluster.h"
#include "tests/support/kube_objects.h"
#include "tests/support/status_matchers.h"

namespace rotor::kube {
namespace {

using rotor::testing::eventually;
using rotor::testing::FakeCluster;
using ::testing::Contains;
using ::testing::ElementsAre;

using rotor::testing::kTestNamespace;

/** A ConfigMap the reflector under test selects (the namespace's kube-root-ca.crt is not). */
json watched(const std::string& name) { return rotor::testing::configMapObject(name, {{"reflected", "yes"}}); }

class ReflectorTest : public ::testing::Test {
protected:
  void SetUp() override { cluster_.installRotor(kTestNamespace); }

  void start(std::chrono::seconds watchTimeout = std::chrono::seconds(30)) {
    reflector_ = std::make_unique<Reflector>(
        *client_, kConfigMaps,
        ReflectorOptions{.ns = kTestNamespace,
                         .labelSelector = "reflected",
                         .minWatchTimeout = watchTimeout,
                         .initialBackoff = std::chrono::milliseconds(50)},
        [this](const std::string& type, const json& object) {
          std::lock_guard lock(mu_);
          seen_.push_back(type + " " + object["metadata"]["name"].get<std::string>());
        },
        [this](const Status& error) {
          std::lock_guard lock(mu_);
          errors_.push_back(error);
        });
    thread_ = std::jthread([this](std::stop_token stop) { reflector_->run(stop); });
  }

  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::vector<Status> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

  FakeCluster cluster_;
  Client* client_ = &cluster_.client();
  std::optional<Client> unretried_;  // a client that gives throttled requests up at once
  std::unique_ptr<Reflector> reflector_;
  std::mutex mu_;
  std::vector<std::string> seen_;
  std::vector<Status> errors_;
  std::jthread thread_;  // last: stops before what it uses goes
};

TEST_F(ReflectorTest, ListsThenWatches) {
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("before")));
  start();
  ASSERT_TRUE(eventually([&] { return reflector_->synced(); }, std::chrono::seconds(10)));
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("after")));
  ASSERT_OK(client_->remove(kConfigMaps, kTestNamespace, "before"));
  ASSERT_TRUE(eventually([&] { return seen().size() == 3; }, std::chrono::seconds(10)));
  EXPECT_THAT(seen(), ElementsAre("ADDED before", "ADDED after", "DELETED before"));
  EXPECT_EQ(reflector_->lists(), 1u);
  EXPECT_THAT(reflector_->keys(), ElementsAre(api::ObjectKey{kTestNamespace, "after"}));  // what a resync queues
}

TEST_F(ReflectorTest, WatchesAgainWhereTheServerEndedTheLastWatch) {
  start(std::chrono::seconds(1));
  ASSERT_TRUE(eventually([&] { return reflector_->synced(); }, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the first watch's timeout
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("later")));
  ASSERT_TRUE(eventually([&] { return seen().size() == 1; }, std::chrono::seconds(10)));
  EXPECT_THAT(seen(), ElementsAre("ADDED later"));
  EXPECT_EQ(reflector_->lists(), 1u);  // a watch that timed out resumes without a list
}

TEST_F(ReflectorTest, RelistsWhenItsResourceVersionExpiredAndReportsTheGap) {
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("kept")));
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("removed")));
  auto changed = client_->create(kConfigMaps, kTestNamespace, watched("changed"));
  ASSERT_OK(changed);
  start();
  ASSERT_TRUE(eventually([&] { return seen().size() == 3; }, std::chrono::seconds(10)));
  // The watch breaks; while the reflector is kept away the cache window moves past its version.
  cluster_.api().setWatchCacheCapacity(1);
  cluster_.api().refuseWatches(true);
  cluster_.api().endWatches();
  ASSERT_OK(client_->remove(kConfigMaps, kTestNamespace, "removed"));
  (*changed)["data"]["k"] = "w";
  ASSERT_OK(client_->update(kConfigMaps, kTestNamespace, *changed));
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("new")));
  cluster_.api().refuseWatches(false);
  ASSERT_TRUE(eventually([&] { return reflector_->lists() >= 2 && seen().size() >= 6; }, std::chrono::seconds(10)));
  const std::vector<std::string> all = seen();
  EXPECT_THAT(std::vector<std::string>(all.begin() + 3, all.end()),
              ::testing::UnorderedElementsAre("MODIFIED changed", "ADDED new", "DELETED removed"));
  EXPECT_THAT(reflector_->keys(),
              ElementsAre(api::ObjectKey{kTestNamespace, "changed"}, api::ObjectKey{kTestNamespace, "kept"},
                          api::ObjectKey{kTestNamespace, "new"}));
  EXPECT_THAT(errors(), Contains(rotor::testing::StatusIs(Code::kGone)));
}

TEST_F(ReflectorTest, BacksOffAndRecoversFromErrors) {
  ASSERT_OK(client_->create(kConfigMaps, kTestNamespace, watched("x")));
  client_ = &unretried_.emplace(cluster_.transport(), ClientOptions{.throttledRetries = 0});
  cluster_.api().throttleNextRequests(3);  // the first three lists
  start();
  ASSERT_TRUE(eventually([&] { return reflector_->synced(); }, std::chrono::seconds(10)));
  EXPECT_THAT(seen(), ElementsAre("ADDED x"));
  EXPECT_EQ(errors().size(), 3u);
  EXPECT_EQ(reflector_->lists(), 1u);
}

}  // namespace
}  // namespace rotor::kube
