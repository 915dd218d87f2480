// Events and leader election Leases written through the client to the fake API server over HTTPS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/kube/api_lease_store.h"
#include "controller/kube/event_writer.h"
#include "controller/kube/leader_pod_label.h"
#include "controller/kube/micro_time.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_cluster.h"
#include "tests/support/status_matchers.h"

namespace rotor::kube {
namespace {

using rotor::testing::FakeClock;
using rotor::testing::FakeCluster;

using rotor::testing::kTestNamespace;

class KubeObjectsTest : public ::testing::Test {
protected:
  void SetUp() override { cluster_.installRotor(kTestNamespace); }
  FakeClock clock_;
  FakeCluster cluster_;
  Client* client_ = &cluster_.client();
};

TEST(MicroTimeTest, AlwaysSixFractionalDigits) {
  const SystemTime t = std::chrono::system_clock::from_time_t(1795342500) + std::chrono::microseconds(71509);
  EXPECT_EQ(formatMicroTime(t), "2026-11-22T10:15:00.071509Z");
  EXPECT_EQ(formatMicroTime(std::chrono::system_clock::from_time_t(1795342500)), "2026-11-22T10:15:00.000000Z");
  // Before 1970 the second is the one below, not the one nearer zero.
  const SystemTime early = std::chrono::system_clock::from_time_t(-1) + std::chrono::microseconds(250000);
  EXPECT_EQ(formatMicroTime(early), "1969-12-31T23:59:59.250000Z");
  EXPECT_EQ(parseMicroTime(formatMicroTime(t)), t);
  EXPECT_EQ(parseMicroTime("2026-11-22T10:15:00.071509123Z"), t);  // nanoseconds cut
  EXPECT_EQ(parseMicroTime("not a time"), std::nullopt);
}

TEST_F(KubeObjectsTest, EventsAreAcceptedAndNameTheirRotation) {
  api::CertificateRotation r;
  r.metadata = {
      .name = "edge", .ns = kTestNamespace, .uid = "972d4c57-d356-44d5-a990-9da3a026487e", .resourceVersion = "7"};
  EventWriter events(*client_, clock_, "rotor-0");
  ASSERT_OK(events.write(r, true, "Reconcile", "PrecheckFailed", "the new certificate does not chain to the bundle"));
  clock_.advance(std::chrono::milliseconds(1));
  ASSERT_OK(events.write(r, false, "Reconcile", "Staged", std::string(2000, 'x')));
  auto written = client_->list(kEvents, kTestNamespace);
  ASSERT_OK(written);
  ASSERT_EQ(written->items.size(), 2u);
  const json& first = written->items[0];
  EXPECT_EQ(first["type"], "Warning");
  EXPECT_EQ(first["reportingController"], "rotor.dev/rotor-controller");
  EXPECT_EQ(first["regarding"]["kind"], "CertificateRotation");
  EXPECT_EQ(first["regarding"]["uid"], r.metadata.uid);
  EXPECT_EQ(written->items[1]["note"].get<std::string>().size(), 1024u);  // cut to the API's limit
}

TEST_F(KubeObjectsTest, LeaderElectionOverTheApi) {
  ApiLeaseStore leases(*client_, kTestNamespace, "rotor-controller");
  ElectionOptions options{.identity = "a", .leaseDuration = std::chrono::seconds(15)};
  LeaderElector a(leases, clock_, options);
  options.identity = "b";
  LeaderElector b(leases, clock_, options);
  EXPECT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  clock_.advance(std::chrono::seconds(5));
  EXPECT_TRUE(a.tryAcquireOrRenew());  // a renews
  EXPECT_FALSE(b.tryAcquireOrRenew());
  clock_.advance(std::chrono::seconds(16));  // a stopped renewing: b takes over once it has waited a lease
  EXPECT_TRUE(b.tryAcquireOrRenew());
  auto lease = client_->get(kLeases, kTestNamespace, "rotor-controller");
  ASSERT_OK(lease);
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
}

TEST_F(KubeObjectsTest, TheLeaderLabelFollowsWhatIsAskedThroughRefusedWrites) {
  ASSERT_OK(client_->create(kPods, kTestNamespace,
                            {{"apiVersion", "v1"},
                             {"kind", "Pod"},
                             {"metadata", {{"name", "rotor-0"}, {"labels", {{"app", "rotor"}}}}},
                             {"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}));
  const auto labels = [&] { return client_->get(kPods, kTestNamespace, "rotor-0").value()["metadata"]["labels"]; };
  std::ostringstream logged;
  RealClock clock;
  Logger log(logged, clock);
  LeaderPodLabel label(*client_, kTestNamespace, "rotor-0", log, std::chrono::milliseconds(10));
  cluster_.api().failNextWrites(3);  // the first writes meet 409 and are tried again
  label.want(true);
  ASSERT_TRUE(label.waitSettled(std::chrono::seconds(5)));
  EXPECT_EQ(labels()[std::string(kLeaderLabel)], "true");
  EXPECT_EQ(labels()["app"], "rotor");  // the other labels stay
  EXPECT_THAT(logged.str(), ::testing::HasSubstr("Could not label this pod as the leader's"));
  label.want(false);
  ASSERT_TRUE(label.waitSettled(std::chrono::seconds(5)));
  EXPECT_FALSE(labels().contains(std::string(kLeaderLabel)));
  EXPECT_EQ(labels()["app"], "rotor");
  // A pod deleted meanwhile has no label to remove: settled, not retried for ever.
  ASSERT_OK(client_->remove(kPods, kTestNamespace, "rotor-0"));
  label.want(false);
  EXPECT_TRUE(label.waitSettled(std::chrono::seconds(5)));
}

}  // namespace
}  // namespace rotor::kube
