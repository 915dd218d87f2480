// ConsumerPodStore (controller/store/consumer_pod_store.h): every implementation. A store
// without pods says so (kFailedPrecondition) and a cluster counts only what runs; how pods are
// judged is kube_contract_test's, against what the kubelet reports.
#include "tests/contract/store_backends.h"

namespace rotor::store::contract {
namespace {

using rotor::testing::StatusIs;

template <typename Backend>
class ConsumerPodStoreContract : public ContractTest<Backend> {
protected:
  ConsumerPodStore& pods() { return this->backend.get(); }
  static constexpr bool kHasPods = std::is_same_v<Backend, KubeBackend>;
};
TYPED_TEST_SUITE(ConsumerPodStoreContract, Backends);

TYPED_TEST(ConsumerPodStoreContract, NoPodsAreCountedWhereNoneRunOrWhereThereAreNone) {
  CertificateRotation measuring = this->desired();
  measuring.spec.adoption.pods = api::ConsumerPodsSpec{};
  auto tally = this->pods().tallyConsumerPods(this->rotations().applyRotation(measuring).value(), {});
  if (!TestFixture::kHasPods) {
    EXPECT_THAT(tally, StatusIs(Code::kFailedPrecondition));
    return;
  }
  ASSERT_OK(tally);
  EXPECT_EQ(tally->running, 0);
  EXPECT_EQ(tally->adopted, 0);
  EXPECT_TRUE(tally->workloads.empty());
}

TYPED_TEST(ConsumerPodStoreContract, AWorkloadThatDoesNotExistIsNeitherRestartedNorFollowed) {
  auto r = this->stored();
  const api::WorkloadRef missing{"Deployment", r.metadata.ns, "missing"};
  const Code expected = TestFixture::kHasPods ? Code::kNotFound : Code::kFailedPrecondition;
  EXPECT_THAT(this->pods().restartWorkload(r, missing), StatusIs(expected));
  EXPECT_THAT(this->pods().workloadRollout(r, missing), StatusIs(expected));
}

}  // namespace
}  // namespace rotor::store::contract
