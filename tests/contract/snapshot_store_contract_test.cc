// SnapshotStore (controller/store/snapshot_store.h): every implementation.
#include "tests/contract/store_backends.h"

namespace rotor::store::contract {
namespace {

using rotor::testing::StatusIs;
using ::testing::ElementsAre;

template <typename Backend>
class SnapshotStoreContract : public ContractTest<Backend> {
protected:
  SnapshotStore& snapshots() { return this->backend.get(); }
};
TYPED_TEST_SUITE(SnapshotStoreContract, Backends);

TYPED_TEST(SnapshotStoreContract, SnapshotsAreIdempotentByNameAndListedOldestFirst) {
  SnapshotStore& snapshots = this->snapshots();
  auto r = this->stored();
  EXPECT_THAT(*snapshots.listSnapshots(r), ::testing::IsEmpty());
  Snapshot s{"proxy-r1-swap",
             rotor::testing::fixtureNow(),
             1,
             "before swap",
             {{"a", this->material("a")}, {"b", this->material("b")}},
             "bundle-pem\n"};
  ASSERT_OK(snapshots.putSnapshot(r, s));
  ASSERT_OK(snapshots.putSnapshot(r, s));
  Snapshot other = s;
  other.reason = "different";
  EXPECT_THAT(snapshots.putSnapshot(r, other), StatusIs(Code::kAlreadyExists));
  auto back = snapshots.getSnapshot(r, "proxy-r1-swap");
  ASSERT_OK(back);
  EXPECT_EQ(*back, s);
  Snapshot later = s;
  later.name = "proxy-r1-prune";
  later.takenAt += std::chrono::hours(1);
  ASSERT_OK(snapshots.putSnapshot(r, later));
  EXPECT_THAT(*snapshots.listSnapshots(r), ElementsAre("proxy-r1-swap", "proxy-r1-prune"));
  EXPECT_THAT(snapshots.getSnapshot(r, "missing"), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace rotor::store::contract
