// The work queue's client-go semantics and the manager's resync, on a FakeClock.
#include "controller/manager/manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "tests/support/rotation_harness.h"

namespace rotor::manager {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

const api::ObjectKey kA{"default", "a"}, kB{"default", "b"};

TEST(WorkQueueTest, AKeyIsQueuedOnceAndHandedToOneWorkerAtATime) {
  rotor::testing::FakeClock clock;
  WorkQueue queue(clock);
  queue.add(kA);
  queue.add(kA);
  EXPECT_EQ(queue.depth(), 1u);
  ASSERT_THAT(queue.tryGet(), Optional(kA));
  queue.add(kA);  // changed while in progress: not handed out again yet
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  queue.done(kA);
  EXPECT_THAT(queue.tryGet(), Optional(kA));
}

TEST(WorkQueueTest, DelaysKeepTheEarlierTimeAndBackoffDoubles) {
  rotor::testing::FakeClock clock;
  WorkQueue queue(clock, {.initial = std::chrono::seconds(1), .max = std::chrono::seconds(3)});
  queue.addAfter(kA, std::chrono::seconds(10));
  queue.addAfter(kA, std::chrono::seconds(5));
  clock.advance(std::chrono::seconds(5));
  ASSERT_THAT(queue.tryGet(), Optional(kA));
  queue.done(kA);
  for (const int seconds : {1, 2, 3, 3}) {  // doubling, capped
    queue.addWithBackoff(kA);
    clock.advance(std::chrono::seconds(seconds) - std::chrono::milliseconds(1));
    EXPECT_EQ(queue.tryGet(), std::nullopt) << seconds;
    clock.advance(std::chrono::milliseconds(1));
    ASSERT_THAT(queue.tryGet(), Optional(kA)) << seconds;
    queue.done(kA);
  }
  queue.forget(kA);
  EXPECT_EQ(queue.failures(kA), 0);
}

TEST(WorkQueueTest, AThrottledKeyIsReadyAtOnceThenAtMostOncePerInterval) {
  rotor::testing::FakeClock clock;
  WorkQueue queue(clock);
  const Duration interval = std::chrono::seconds(1);
  queue.addThrottled(kA, interval);
  ASSERT_THAT(queue.tryGet(), Optional(kA));
  queue.done(kA);
  for (int i = 0; i < 5; ++i) {  // a burst within the interval: one reconcile at its end
    clock.advance(std::chrono::milliseconds(100));
    queue.addThrottled(kA, interval);
    EXPECT_EQ(queue.tryGet(), std::nullopt) << i;
  }
  clock.advance(std::chrono::milliseconds(499));
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  clock.advance(std::chrono::milliseconds(1));
  ASSERT_THAT(queue.tryGet(), Optional(kA));
  queue.done(kA);
  EXPECT_EQ(queue.tryGet(), std::nullopt);
  queue.add(kA);  // other notifications are not throttled
  EXPECT_THAT(queue.tryGet(), Optional(kA));
  queue.done(kA);
  clock.advance(std::chrono::seconds(5));  // quiet for longer than the interval: ready at once
  queue.addThrottled(kA, interval);
  EXPECT_THAT(queue.tryGet(), Optional(kA));
}

class ManagerTest : public ::testing::Test {
protected:
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store{clock};
  rotor::testing::StoreBackedProber prober{store, clock};
  rotor::testing::RecordingEvents events;
  std::ostringstream logText;
  Logger log{logText, clock, LogLevel::kError};
};

TEST_F(ManagerTest, AResyncQueuesEveryStoredRotation) {
  for (const char* name : {"a", "b"}) {
    api::CertificateRotation r = rotor::testing::rotationTemplate();
    r.metadata.name = name;
    ASSERT_TRUE(store.applyRotation(r).ok());
  }
  Manager manager({store, clock, prober, events}, log);
  ASSERT_TRUE(manager.resync().ok());
  EXPECT_EQ(manager.queue().depth(), 2u);
  EXPECT_TRUE(manager.synced());
}

TEST_F(ManagerTest, AResyncTakesItsKeysFromTheGivenSourceInsteadOfTheStore) {
  int calls = 0;
  Manager manager({store, clock, prober, events}, log, {.listKeys = [&]() -> StatusOr<std::vector<api::ObjectKey>> {
                    ++calls;
                    return std::vector<api::ObjectKey>{kA, kB};
                  }});
  ASSERT_TRUE(manager.resync().ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(manager.queue().depth(), 2u);  // the store holds none
  // A key whose rotation is gone is reconciled as not found and not queued again.
  EXPECT_TRUE(manager.processOne());
  EXPECT_TRUE(manager.processOne());
  EXPECT_FALSE(manager.processOne());
  EXPECT_EQ(manager.queue().depth(), 0u);
}

/** A store that remembers which rotations each orphan collection was told exist. */
class OrphanCollectingStore final : public store::ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  StatusOr<size_t> collectOrphans(const std::vector<api::ObjectKey>& rotations) override {
    told.push_back(rotations);
    if (!failure.ok()) return failure;
    return size_t{3};
  }
  std::vector<std::vector<api::ObjectKey>> told;
  Status failure;
};

TEST_F(ManagerTest, AResyncCollectsWhatRotationsAbsentFromItsListLeftBehind) {
  OrphanCollectingStore collecting(store);
  Logger informative{logText, clock, LogLevel::kInfo};
  Manager manager({collecting, clock, prober, events}, informative,
                  {.listKeys = [&]() -> StatusOr<std::vector<api::ObjectKey>> {
                    return std::vector<api::ObjectKey>{kA, kB};
                  }});
  ASSERT_TRUE(manager.resync().ok());
  ASSERT_EQ(collecting.told.size(), 1u);
  EXPECT_THAT(collecting.told[0], ::testing::UnorderedElementsAre(kA, kB));
  EXPECT_THAT(logText.str(), HasSubstr("Removed what deleted rotations left"));
  EXPECT_THAT(logText.str(), HasSubstr("objects=3"));

  // A collection that fails is reported; the resync itself has queued every rotation.
  collecting.failure = unavailable("the API server is away");
  ASSERT_TRUE(manager.resync().ok());
  EXPECT_THAT(logText.str(), HasSubstr("the API server is away"));
  EXPECT_TRUE(manager.synced());

  // No list, no collection: a rotation missing from a failed list is not taken for deleted.
  Manager unlisted({collecting, clock, prober, events}, informative,
                   {.listKeys = []() -> StatusOr<std::vector<api::ObjectKey>> { return unavailable("no list"); }});
  EXPECT_FALSE(unlisted.resync().ok());
  EXPECT_EQ(collecting.told.size(), 2u);
}

TEST_F(ManagerTest, TheEchoOfItsOwnWritesWakesNothingButAnyOtherChangeWakesAtOnce) {
  api::CertificateRotation r = rotor::testing::rotationTemplate();
  r.metadata.name = "a";
  auto created = store.applyRotation(r);
  ASSERT_TRUE(created.ok());
  Manager manager({store, clock, prober, events}, log);
  manager.notifyChanged(kA, created->metadata.resourceVersion);  // the user's create
  ASSERT_TRUE(manager.processOne());  // bootstraps: writes its status, comes back before renewal
  EXPECT_FALSE(manager.processOne());
  auto reconciled = store.getRotation(kA);
  ASSERT_TRUE(reconciled.ok());
  ASSERT_NE(reconciled->metadata.resourceVersion, created->metadata.resourceVersion);
  manager.notifyChanged(kA, reconciled->metadata.resourceVersion);  // the echo of that write
  EXPECT_FALSE(manager.processOne());
  // The user annotates it: woken at once, however soon after the controller's own write.
  reconciled->metadata.annotations["example.com/touched"] = "1";
  ASSERT_TRUE(store.updateRotation(*reconciled).ok());
  manager.notifyChanged(kA, reconciled->metadata.resourceVersion);
  EXPECT_TRUE(manager.processOne());
  manager.notifyChanged(kA, "");  // a deletion: its last state may be the controller's own
  EXPECT_TRUE(manager.processOne());
}

TEST(OwnWritesTest, AnEchoThatArrivesBeforeItsWriteReturnsIsStillKnownForOne) {
  // inotify reports a rename before the writer's directory fsync returns, and a watch event can
  // beat the API server's response: the echo is asked about while the write is under way.
  OwnWrites writes;
  writes.begin(kA);
  std::atomic<bool> asked{false};
  std::thread watcher([&] {
    asked = true;
    EXPECT_TRUE(writes.isEcho(kA, "42"));
    EXPECT_FALSE(writes.isEcho(kA, "43"));
  });
  while (!asked) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the watcher waits meanwhile
  writes.end(kA, "42");
  watcher.join();
  // A failed write leaves nothing to wait for and nothing to match.
  writes.begin(kB);
  writes.end(kB, "");
  EXPECT_FALSE(writes.isEcho(kB, "44"));
}

/** A store whose reads take the fake clock's time, as a tally of a million agents does. */
class SlowStore final : public store::ForwardingStore {
public:
  SlowStore(store::Store& inner, rotor::testing::FakeClock& clock) : ForwardingStore(inner), clock_(clock) {}
  StatusOr<api::CertificateRotation> getRotation(const api::ObjectKey& key) override {
    clock_.advance(std::chrono::milliseconds(70));
    return ForwardingStore::getRotation(key);
  }

private:
  rotor::testing::FakeClock& clock_;
};

/** Records how long each reconcile took. */
struct TookObserver final : ReconcileObserver {
  void reconciled(const api::ObjectKey&, const StatusOr<reconcilers::ReconcileResult>&,
                  std::chrono::nanoseconds took) override {
    last = took;
  }
  std::chrono::nanoseconds last{};
};

TEST_F(ManagerTest, AgentsWakeASlowReconcileAtMostOncePerTenOfItsDurations) {
  api::CertificateRotation r = rotor::testing::rotationTemplate();
  r.metadata.name = "a";
  ASSERT_TRUE(store.applyRotation(r).ok());
  SlowStore slow(store, clock);
  TookObserver took;
  Manager manager({slow, clock, prober, events}, log, {.observer = &took});
  manager.notifyAgentsChanged(kA);  // nothing known of its reconciles yet: at once
  ASSERT_TRUE(manager.processOne());
  ASSERT_GE(took.last, std::chrono::milliseconds(70));
  const MonotonicTime finished = clock.monotonicNow();
  const MonotonicTime due = finished - took.last + Manager::kAgentsDutyRatio * took.last;
  manager.notifyAgentsChanged(kA);
  manager.notifyAgentsChanged(kA);
  clock.advance(std::chrono::duration_cast<std::chrono::milliseconds>(due - finished) - std::chrono::milliseconds(1));
  EXPECT_FALSE(manager.processOne()) << "woken before ten of its reconcile's durations had passed";
  clock.advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(manager.processOne());
  // Any other change still wakes it at once.
  manager.notifyChanged(kA, "");
  EXPECT_TRUE(manager.processOne());
}

/** A store that counts agents its own way, as the adoption registry's view does. */
class OwnTallyStore final : public store::ForwardingStore {
public:
  using ForwardingStore::ForwardingStore;
  StatusOr<api::AdoptionStatus> tallyAgents(const api::ObjectKey&, const store::TallyQuery&) override {
    api::AdoptionStatus counted;
    counted.active = 1000000;
    return counted;
  }
};

TEST_F(ManagerTest, ItsReconcilesUseTheStoresOwnTally) {
  // Through the recorder of its own writes, a reconcile must still reach the compact tally: the
  // default (every record built and counted) holds a million agents' lock for a tenth of a second.
  OwnTallyStore compact(store);
  OwnWrites writes;
  OwnWriteRecorder recorder(compact, writes);
  auto tally = recorder.tallyAgents(kA, {"sha256:" + std::string(64, 'a'), clock.now(), std::chrono::hours(1)});
  ASSERT_TRUE(tally.ok());
  EXPECT_EQ(tally->active, 1000000);
}

}  // namespace
}  // namespace rotor::manager
