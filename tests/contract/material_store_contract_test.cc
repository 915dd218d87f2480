// AuthorityStore, ServerStore and BundleStore (controller/store/*_store.h): every implementation.
#include "tests/contract/store_backends.h"

namespace rotor::store::contract {
namespace {

using rotor::testing::StatusIs;

template <typename Backend>
class AuthorityStoreContract : public ContractTest<Backend> {
protected:
  AuthorityStore& authorities() { return this->backend.get(); }
};
TYPED_TEST_SUITE(AuthorityStoreContract, Backends);

TYPED_TEST(AuthorityStoreContract, AuthoritiesRoundTripWithOptimisticConcurrency) {
  AuthorityStore& authorities = this->authorities();
  auto r = this->stored();
  auto auth = authorities.readAuthorities(r).value();
  EXPECT_FALSE(auth.value.current.has_value());
  auto ca = rotor::testing::makeCa("Root");
  auto next = rotor::testing::makeCa("Next");
  Authorities a;
  a.current = AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  ASSERT_OK(authorities.writeAuthorities(r, a, auth.version));
  auto back = authorities.readAuthorities(r).value();
  EXPECT_EQ(back.value, a);
  EXPECT_THAT(authorities.writeAuthorities(r, a, auth.version), StatusIs(Code::kConflict));
  a.next = AuthorityMaterial{next.certificate().toPem(), next.key().toPem()};
  ASSERT_OK(authorities.writeAuthorities(r, a, back.version));
  EXPECT_EQ(authorities.readAuthorities(r)->value, a);
}

TYPED_TEST(AuthorityStoreContract, AGeneratedCaHasNoCustomAuthorityToRead) {
  EXPECT_THAT(this->authorities().readCustomAuthority(this->stored()), StatusIs(Code::kFailedPrecondition));
}

template <typename Backend>
class ServerStoreContract : public ContractTest<Backend> {
protected:
  ServerStore& servers() { return this->backend.get(); }
};
TYPED_TEST_SUITE(ServerStoreContract, Backends);

TYPED_TEST(ServerStoreContract, ServedMaterialRoundTripsWithOptimisticConcurrency) {
  ServerStore& servers = this->servers();
  auto r = this->stored();
  auto empty = servers.readServed(r, "a");
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->value.has_value());
  ServedMaterial first = this->material("1");
  ASSERT_OK(servers.writeServed(r, "a", first, empty->version));
  auto read = servers.readServed(r, "a");
  ASSERT_OK(read);
  EXPECT_EQ(read->value, first);
  EXPECT_THAT(servers.writeServed(r, "a", this->material("2"), empty->version), StatusIs(Code::kConflict));
  ServedMaterial second = this->material("3");
  ASSERT_OK(servers.writeServed(r, "a", second, read->version));
  EXPECT_EQ(servers.readServed(r, "a")->value, second);
  EXPECT_FALSE(servers.readServed(r, "b")->value.has_value());
  EXPECT_THAT(servers.readServed(r, "nope"), StatusIs(Code::kNotFound));
}

TYPED_TEST(ServerStoreContract, AServerWithoutReloadCommandOrWorkloadReloadsAndIsRolledOutAtOnce) {
  ServerStore& servers = this->servers();
  auto r = this->stored();
  EXPECT_OK(servers.reload(r, "a"));
  EXPECT_THAT(servers.reload(r, "nope"), StatusIs(Code::kNotFound));
  auto rollout = servers.rolloutStatus(r, "a");
  ASSERT_OK(rollout);
  EXPECT_TRUE(rollout->done) << rollout->progress;
}

template <typename Backend>
class BundleStoreContract : public ContractTest<Backend> {
protected:
  BundleStore& bundles() { return this->backend.get(); }
};
TYPED_TEST_SUITE(BundleStoreContract, Backends);

TYPED_TEST(BundleStoreContract, BundleRoundTripsWithOptimisticConcurrency) {
  BundleStore& bundles = this->bundles();
  auto r = this->stored();
  auto bundle = bundles.readBundle(r).value();
  EXPECT_FALSE(bundle.value.has_value());
  auto ca = rotor::testing::makeCa("Root");
  ASSERT_OK(bundles.writeBundle(r, ca.certificate().toPem(), bundle.version));
  auto written = bundles.readBundle(r).value();
  EXPECT_EQ(*written.value, ca.certificate().toPem());
  EXPECT_THAT(bundles.writeBundle(r, "x", bundle.version), StatusIs(Code::kConflict));
  const std::string both = ca.certificate().toPem() + rotor::testing::makeCa("Next").certificate().toPem();
  ASSERT_OK(bundles.writeBundle(r, both, written.version));
  EXPECT_EQ(*bundles.readBundle(r)->value, both);
}

TYPED_TEST(BundleStoreContract, WithoutANamespaceSelectorThereAreNoCopiesAndNothingToCollect) {
  BundleStore& bundles = this->bundles();
  auto r = this->stored();
  const std::string pem = rotor::testing::makeCa("Root").certificate().toPem();
  ASSERT_OK(bundles.writeBundle(r, pem, ""));
  auto copies = bundles.syncBundleCopies(r, pem);
  ASSERT_OK(copies);
  EXPECT_EQ(*copies, api::BundleCopiesStatus{});
  auto collected = bundles.collectOrphans({r.key()});
  ASSERT_OK(collected);
  EXPECT_EQ(*collected, 0u);
  ASSERT_OK(this->rotations().deleteRotation(r.key()));
  EXPECT_OK(bundles.rotationGone(r.key()));
  EXPECT_EQ(*bundles.readBundle(r)->value, pem) << "the bundle outlives its rotation";
}

}  // namespace
}  // namespace rotor::store::contract
