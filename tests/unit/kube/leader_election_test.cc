#include "controller/kube/leader_election.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/fake_clock.h"
#include "tests/support/kube_transcript.h"
#include "tests/support/status_matchers.h"

namespace rotor::kube {
namespace {

using namespace std::chrono_literals;

/** One Lease with the API server's optimistic concurrency: a stale resourceVersion is a 409. */
class MemoryLeaseStore final : public LeaseStore {
public:
  StatusOr<std::optional<LeaseRecord>> get() override {
    if (down) return unavailable("connection refused");
    return lease_;
  }
  Status create(LeaseRecord& lease) override {
    if (down) return unavailable("connection refused");
    if (lease_) return Status(Code::kAlreadyExists, "leases \"rotor\" already exists");
    lease.resourceVersion = std::to_string(++version_);
    lease_ = lease;
    return okStatus();
  }
  Status update(LeaseRecord& lease) override {
    if (down) return unavailable("connection refused");
    if (auto race = std::exchange(beforeNextUpdate, nullptr)) race();
    if (!lease_ || lease.resourceVersion != lease_->resourceVersion) return Status(Code::kConflict, "modified");
    lease.resourceVersion = std::to_string(++version_);
    lease_ = lease;
    return okStatus();
  }
  const std::optional<LeaseRecord>& lease() const { return lease_; }
  bool down = false;
  /** Runs once inside the next update, before it checks the version: another writer's turn. */
  std::function<void()> beforeNextUpdate;

private:
  std::optional<LeaseRecord> lease_;
  int version_ = 0;
};

class LeaderElectionTest : public ::testing::Test {
protected:
  ElectionOptions options(const std::string& identity) { return {identity, 15s, 10s, 2s}; }
  rotor::testing::FakeClock clock;
  MemoryLeaseStore store;
  LeaderElector a{store, clock, options("a")};
  LeaderElector b{store, clock, options("b")};
};

TEST_F(LeaderElectionTest, TheFirstCandidateLeadsAndTheOtherWaitsWhileItRenews) {
  EXPECT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  for (int i = 0; i < 30; ++i) {  // a minute of renewals every retry period
    clock.advance(2s);
    EXPECT_TRUE(a.tryAcquireOrRenew());
    EXPECT_FALSE(b.tryAcquireOrRenew());
  }
  EXPECT_EQ(store.lease()->holderIdentity, "a");
  EXPECT_EQ(store.lease()->leaseTransitions, 0);
  EXPECT_EQ(store.lease()->leaseDurationSeconds, 15);
}

TEST_F(LeaderElectionTest, WhenTheLeaderDiesAnotherTakesOverAfterTheLeaseDurationNotBefore) {
  ASSERT_TRUE(a.tryAcquireOrRenew());
  const SystemTime acquired = *store.lease()->acquireTime;
  EXPECT_FALSE(b.tryAcquireOrRenew());  // b starts observing the record now
  clock.advance(14s);
  EXPECT_FALSE(b.tryAcquireOrRenew());
  clock.advance(2s);
  EXPECT_TRUE(b.tryAcquireOrRenew());
  EXPECT_EQ(store.lease()->holderIdentity, "b");
  EXPECT_EQ(store.lease()->leaseTransitions, 1);
  EXPECT_GT(*store.lease()->acquireTime, acquired);
  // The old leader, back, finds the lease taken and does not lead.
  EXPECT_FALSE(a.tryAcquireOrRenew());
  EXPECT_FALSE(a.isLeader());
}

TEST_F(LeaderElectionTest, ALeaderThatCannotRenewStopsLeadingBeforeAnotherCanStart) {
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  store.down = true;
  clock.advance(9s);
  EXPECT_TRUE(a.tryAcquireOrRenew()) << "still within renewDeadline";
  clock.advance(2s);
  EXPECT_FALSE(a.tryAcquireOrRenew()) << "renewDeadline passed without a renewal";
  store.down = false;
  clock.advance(5s);  // 16 s after b last saw the record change
  EXPECT_TRUE(b.tryAcquireOrRenew());
}

TEST_F(LeaderElectionTest, OfTwoCandidatesRacingForAnExpiredLeaseOnlyOneWins) {
  ASSERT_TRUE(a.tryAcquireOrRenew());
  LeaderElector c{store, clock, options("c")};
  EXPECT_FALSE(b.tryAcquireOrRenew());
  EXPECT_FALSE(c.tryAcquireOrRenew());
  clock.advance(16s);
  // b and c both read the expired record; c writes first, so b's write is a 409.
  bool cWon = false;
  store.beforeNextUpdate = [&] { cWon = c.tryAcquireOrRenew(); };
  EXPECT_FALSE(b.tryAcquireOrRenew());
  EXPECT_TRUE(cWon);
  EXPECT_EQ(store.lease()->holderIdentity, "c");
  EXPECT_EQ(store.lease()->leaseTransitions, 1);
}

TEST_F(LeaderElectionTest, AReleasedLeaseIsTakenAtOnce) {
  ASSERT_TRUE(a.tryAcquireOrRenew());
  EXPECT_FALSE(b.tryAcquireOrRenew());
  ASSERT_OK(a.release());
  EXPECT_FALSE(a.isLeader());
  EXPECT_TRUE(b.tryAcquireOrRenew());
}

TEST_F(LeaderElectionTest, RunCallsBackOnStartAndStopAndReleasesTheLease) {
  RealClock real;
  LeaderElector elector(store, real, {"runner", 15s, 10s, 10ms});
  std::atomic<int> started{0}, stopped{0};
  {
    std::jthread loop([&](std::stop_token stop) {
      elector.run(
          stop, [&] { ++started; }, [&] { ++stopped; });
    });
    for (int i = 0; i < 200 && started == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(started, 1);
  }
  EXPECT_EQ(stopped, 1);
  EXPECT_EQ(store.lease()->holderIdentity, "");
}

/** Answers like MemoryLeaseStore until hung, then holds every request until released, as an
 *  API server that froze does. */
class HangingLeaseStore final : public LeaseStore {
public:
  StatusOr<std::optional<LeaseRecord>> get() override {
    waitWhileHung();
    return inner.get();
  }
  Status create(LeaseRecord& lease) override {
    waitWhileHung();
    return inner.create(lease);
  }
  Status update(LeaseRecord& lease) override {
    waitWhileHung();
    return inner.update(lease);
  }
  void hang() { hung = true; }
  void thaw() {
    hung = false;
    hung.notify_all();
  }
  std::atomic<bool> hung{false};
  MemoryLeaseStore inner;

private:
  void waitWhileHung() { hung.wait(true); }
};

TEST(LeaderElectionHangTest, ALeaderStopsAtItsRenewDeadlineWhileItsRequestsHang) {
  RealClock real;
  HangingLeaseStore store;
  LeaderElector elector(store, real, {"leader", 2s, 300ms, 50ms});
  std::atomic<int> started{0}, stopped{0};
  std::atomic<bool> stoppedWhileHung{false};
  {
    std::jthread loop([&](std::stop_token stop) {
      elector.run(
          stop, [&] { ++started; },
          [&] {
            if (++stopped == 1) stoppedWhileHung = store.hung.load();
          });
    });
    for (int i = 0; i < 200 && started == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(started, 1);
    store.hang();
    for (int i = 0; i < 300 && stopped == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(stopped, 1) << "still leading with every request hanging past the renew deadline";
    EXPECT_TRUE(stoppedWhileHung) << "stopped only once the requests came back";
    store.thaw();
  }
}

TEST(LeaseJsonTest, ReadsAndWritesTheRecordedLeaseExactly) {
  const auto exchange = rotor::testing::loadTranscript("59-lease-create.http").front();
  const auto sent = nlohmann::json::parse(exchange.request.body);
  auto lease = leaseFromJson(sent);
  ASSERT_OK(lease.status());
  EXPECT_EQ(lease->holderIdentity, "rotor-controller-7d9f8-x2v4q_5b1c9e2a-3f4d-4e6a-9b8c-0d1e2f3a4b5c");
  EXPECT_EQ(lease->leaseDurationSeconds, 15);
  EXPECT_EQ(leaseToJson(*lease, "rotor-demo", "rotor-controller-leader"), sent);
  const auto answered = leaseFromJson(nlohmann::json::parse(exchange.response.body));
  ASSERT_OK(answered.status());
  EXPECT_EQ(answered->resourceVersion, "431");
  EXPECT_EQ(answered->renewTime, lease->renewTime);
  EXPECT_THAT(leaseFromJson(nlohmann::json::parse(R"({"kind":"Pod"})")),
              rotor::testing::StatusIs(Code::kInvalidArgument));
}

TEST(LeaderElectionErrorsTest, FailuresAreReportedButLostRacesAreNot) {
  rotor::testing::FakeClock clock;
  MemoryLeaseStore store;
  std::vector<std::string> reported;
  ElectionOptions withReport{.identity = "a", .onError = [&](const Status& s) { reported.push_back(s.message()); }};
  LeaderElector a(store, clock, withReport);
  store.down = true;
  EXPECT_FALSE(a.tryAcquireOrRenew());
  EXPECT_EQ(reported, std::vector<std::string>{"connection refused"});
  store.down = false;
  LeaderElector b(store, clock, {.identity = "b"});
  ASSERT_TRUE(b.tryAcquireOrRenew());
  EXPECT_FALSE(a.tryAcquireOrRenew());  // b holds it: waiting is not an error
  EXPECT_EQ(reported.size(), 1u);
}

}  // namespace
}  // namespace rotor::kube
