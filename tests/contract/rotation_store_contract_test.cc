// RotationStore (controller/store/rotation_store.h): every implementation.
#include "tests/contract/store_backends.h"
#include "tests/support/full_status.h"

namespace rotor::store::contract {
namespace {

using rotor::testing::StatusIs;

template <typename Backend>
class RotationStoreContract : public ContractTest<Backend> {};
TYPED_TEST_SUITE(RotationStoreContract, Backends);

TYPED_TEST(RotationStoreContract, ApplyCreatesThenBumpsGenerationOnlyOnSpecChange) {
  RotationStore& rotations = this->rotations();
  auto created = rotations.applyRotation(this->desired());
  ASSERT_OK(created);
  EXPECT_EQ(created->metadata.generation, 1);
  EXPECT_FALSE(created->metadata.uid.empty());
  EXPECT_FALSE(created->metadata.resourceVersion.empty());
  EXPECT_TRUE(created->metadata.creationTimestamp.has_value());

  auto same = rotations.applyRotation(this->desired());
  ASSERT_OK(same);
  EXPECT_EQ(same->metadata.resourceVersion, created->metadata.resourceVersion);

  CertificateRotation labelled = this->desired();
  labelled.metadata.labels["team"] = "edge";
  auto relabelled = rotations.applyRotation(labelled);
  ASSERT_OK(relabelled);
  EXPECT_EQ(relabelled->metadata.generation, 1);
  EXPECT_NE(relabelled->metadata.resourceVersion, created->metadata.resourceVersion);

  CertificateRotation changed = this->desired();
  changed.spec.adoption.threshold = 90;
  auto updated = rotations.applyRotation(changed);
  ASSERT_OK(updated);
  EXPECT_EQ(updated->metadata.generation, 2);
  EXPECT_EQ(updated->metadata.uid, created->metadata.uid);
  EXPECT_EQ(updated->metadata.labels.at("team"), "edge");
}

TYPED_TEST(RotationStoreContract, StatusWritesNeedTheCurrentVersion) {
  RotationStore& rotations = this->rotations();
  auto r = this->stored();
  CertificateRotation stale = r;
  r.status.phase = api::Phase::kIssuing;
  ASSERT_OK(rotations.updateRotationStatus(r));
  EXPECT_NE(r.metadata.resourceVersion, stale.metadata.resourceVersion);
  stale.status.phase = api::Phase::kFailed;
  EXPECT_THAT(rotations.updateRotationStatus(stale), StatusIs(Code::kConflict));
  auto read = rotations.getRotation(r.key());
  ASSERT_OK(read);
  EXPECT_EQ(read->status.phase, api::Phase::kIssuing);
  EXPECT_EQ(read->metadata.generation, 1);  // status never bumps the generation
}

TYPED_TEST(RotationStoreContract, EveryStatusFieldSurvivesAWriteAndARead) {
  // On a real API server, a field the CRD's status schema lacks is pruned without a word.
  RotationStore& rotations = this->rotations();
  auto r = this->stored();
  r.status = rotor::testing::everyStatusField();
  r.status.observedGeneration = r.metadata.generation;
  ASSERT_OK(rotations.updateRotationStatus(r));
  auto read = rotations.getRotation(r.key());
  ASSERT_OK(read);
  EXPECT_EQ(read->status, r.status);
}

TYPED_TEST(RotationStoreContract, SpecUpdatesNeedTheCurrentVersionAndKeepStatus) {
  RotationStore& rotations = this->rotations();
  auto r = this->stored();
  r.status.phase = api::Phase::kReady;
  ASSERT_OK(rotations.updateRotationStatus(r));
  CertificateRotation edit = rotations.getRotation(r.key()).value();
  edit.metadata.annotations[std::string(api::kRotateAnnotation)] = "1";
  edit.spec.paused = true;
  ASSERT_OK(rotations.updateRotation(edit));
  EXPECT_EQ(edit.metadata.generation, 2);
  EXPECT_EQ(edit.status.phase, api::Phase::kReady);
  CertificateRotation stale = r;
  EXPECT_THAT(rotations.updateRotation(stale), StatusIs(Code::kConflict));
}

TYPED_TEST(RotationStoreContract, GetListAndDelete) {
  RotationStore& rotations = this->rotations();
  this->stored("b-rotation");
  this->stored("a-rotation");
  auto all = rotations.listRotations(kAllNamespaces);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].metadata.name, "a-rotation");
  const std::string ns = (*all)[0].metadata.ns;
  auto keys = rotations.listRotationKeys();
  ASSERT_OK(keys);
  EXPECT_THAT(*keys, ::testing::ElementsAre((*all)[0].key(), (*all)[1].key()));
  auto inNamespace = rotations.listRotations(ns);
  ASSERT_OK(inNamespace);
  EXPECT_EQ(inNamespace->size(), 2u);
  auto elsewhere = rotations.listRotations(ns + "-other");
  ASSERT_OK(elsewhere);
  EXPECT_TRUE(elsewhere->empty());
  const ObjectKey a = this->desired("a-rotation").key();
  ASSERT_OK(rotations.deleteRotation(a));
  EXPECT_THAT(rotations.getRotation(a), StatusIs(Code::kNotFound));
  EXPECT_THAT(rotations.deleteRotation(a), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace rotor::store::contract
