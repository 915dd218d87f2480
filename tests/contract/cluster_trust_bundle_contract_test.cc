// spec.trustBundle.clusterTrustBundle against an API server: the fake (serving v1alpha1 as
// Kubernetes 1.27-1.32 do with the feature gate) by default, a real one with
// ROTOR_TEST_KUBECONFIG (started with the ClusterTrustBundle feature gate for the tests that
// need the API; they say so and skip where it is not served). What the API server checks — the
// name's rule for its signer, CA certificates only, the attest admission — is met or reported in
// status, never a reconcile error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/api/json_codec.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/transport.h"
#include "controller/pki/bundle.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/kube_objects.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_cluster.h"

namespace rotor::kube {
namespace {

using rotor::store::kube::kBundleSourceAnnotation;
using rotor::store::kube::KubeStore;
using rotor::testing::TestCluster;
using ::testing::HasSubstr;

class ClusterTrustBundleContractTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (cluster_.fake() != nullptr) cluster_.fake()->serveClusterTrustBundles("v1alpha1");
    for (const ResourceType* type : {&kClusterTrustBundlesV1beta1, &kClusterTrustBundlesV1alpha1}) {
      auto served = client().serves(*type);
      ASSERT_OK(served);
      if (*served) {
        type_ = type;
        break;
      }
    }
  }
  void TearDown() override {
    // Cluster-scoped: not removed with the test's namespace.
    for (const std::string& name : made_) (void)client().remove(*type_, "", name);
  }

  Client& client() { return cluster_.client(); }
  const std::string& ns() { return cluster_.ns(); }
  /** A name of this test's own (ClusterTrustBundles share one cluster-wide namespace). */
  std::string bundleName(const std::string& suffix) {
    made_.push_back(ns() + "-" + suffix);
    return made_.back();
  }
  /** "rotor-test.example/<ns>": a signer of this test's own. */
  std::string signer() { return "rotor-test.example/" + ns(); }
  std::string signerBundleName(const std::string& suffix) {
    made_.push_back("rotor-test.example:" + ns() + ":" + suffix);
    return made_.back();
  }

  /** Rotation `name` in ns() whose bundle is also the ClusterTrustBundle `ctb`. */
  StatusOr<api::CertificateRotation> apply(KubeStore& store, const std::string& name, const json& ctb) {
    json object = testing::rotationObject(name);
    object["spec"]["trustBundle"]["clusterTrustBundle"] = ctb;
    ASSIGN_OR_RETURN(api::CertificateRotation r, api::decodeRotation(object));
    r.metadata.ns = ns();
    return store.applyRotation(r);
  }
  StatusOr<json> bundleObject(const std::string& name) { return client().get(*type_, "", name); }

  TestCluster cluster_;
  const ResourceType* type_ = nullptr;
  std::vector<std::string> made_;
  RealClock clock_;
  const pki::CertificateAuthority old_ = testing::makeCa("Old CA");
  const std::string oldCa_ = old_.certificate().toPem();
  const std::string newCa_ = testing::makeCa("New CA").certificate().toPem();
};

#define REQUIRE_CLUSTER_TRUST_BUNDLES()                                                           \
  if (type_ == nullptr)                                                                           \
  GTEST_SKIP() << "the API server serves no ClusterTrustBundle API (on 1.27-1.32: start it with " \
                  "the ClusterTrustBundle feature gate; ../shared/tools/real-cluster/README.md)"

TEST_F(ClusterTrustBundleContractTest, WithoutTheApiTheRotationSaysSoAndNothingFails) {
  if (type_ != nullptr && cluster_.fake() == nullptr) GTEST_SKIP() << "this server serves the API";
  TestCluster bare;  // a fake that serves none, or this real server without it
  KubeStore store(bare.client(), clock_);
  json object = testing::rotationObject("edge");
  object["spec"]["trustBundle"]["clusterTrustBundle"] = {{"name", "edge-ca"}};
  auto r = api::decodeRotation(object);
  ASSERT_OK(r);
  r->metadata.ns = bare.ns();
  auto applied = store.applyRotation(*r);
  ASSERT_OK(applied);
  auto copies = store.syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  ASSERT_TRUE(copies->clusterTrustBundle.has_value());
  EXPECT_FALSE(copies->clusterTrustBundle->current);
  EXPECT_EQ(copies->clusterTrustBundle->apiVersion, "");
  EXPECT_THAT(copies->clusterTrustBundle->message, HasSubstr("serves no ClusterTrustBundle API"));
  auto orphans = store.collectOrphans({applied->key()});
  EXPECT_OK(orphans) << "the resync looks at no ClusterTrustBundles on a server without them";
}

TEST_F(ClusterTrustBundleContractTest, ItHoldsTheBundleAsItChangesWithTheLabelsTheSpecGives) {
  REQUIRE_CLUSTER_TRUST_BUNDLES();
  KubeStore store(client(), clock_);
  const std::string name = bundleName("edge-ca");
  auto applied = apply(store, "edge", {{"name", name}, {"labels", {{"rotor-test/bundle", "edge"}, {"tier", "a"}}}});
  ASSERT_OK(applied);
  auto copies = store.syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  ASSERT_TRUE(copies->clusterTrustBundle.has_value());
  EXPECT_TRUE(copies->clusterTrustBundle->current) << copies->clusterTrustBundle->message;
  EXPECT_EQ(copies->clusterTrustBundle->apiVersion, type_->apiVersion());
  auto object = bundleObject(name);
  ASSERT_OK(object);
  EXPECT_EQ((*object)["spec"]["trustBundle"], oldCa_);
  EXPECT_EQ((*object)["metadata"]["labels"]["rotor-test/bundle"], "edge");
  EXPECT_EQ((*object)["metadata"]["annotations"][std::string(kBundleSourceAnnotation)], ns() + "/edge");
  EXPECT_FALSE(object->contains("/metadata/ownerReferences"_json_pointer))
      << "a cluster-scoped object cannot be owned by a namespaced rotation";

  // Staged: both CAs. Someone else's label stays; a label the spec drops goes.
  json labelled = *object;
  labelled["metadata"]["labels"]["someone/else"] = "kept";
  ASSERT_OK(client().update(*type_, "", labelled));
  applied->status.bundleCopies = *copies;
  applied->spec.trustBundle.clusterTrustBundle->labels.erase("tier");
  const std::string both = oldCa_ + newCa_;
  copies = KubeStore(client(), clock_).syncBundleCopies(*applied, both);  // a fresh store
  ASSERT_OK(copies);
  EXPECT_TRUE(copies->clusterTrustBundle->current) << copies->clusterTrustBundle->message;
  object = bundleObject(name);
  ASSERT_OK(object);
  EXPECT_EQ((*object)["spec"]["trustBundle"], both);
  EXPECT_EQ((*object)["metadata"]["labels"]["someone/else"], "kept");
  EXPECT_FALSE((*object)["metadata"]["labels"].contains("tier"));
  const std::string version = (*object)["metadata"]["resourceVersion"];
  ASSERT_OK(KubeStore(client(), clock_).syncBundleCopies(*applied, both));
  EXPECT_EQ((*bundleObject(name))["metadata"]["resourceVersion"], version) << "current: not written again";
}

TEST_F(ClusterTrustBundleContractTest, WhatTheApiServerRefusesIsReportedNotRetriedAsAnError) {
  REQUIRE_CLUSTER_TRUST_BUNDLES();
  KubeStore store(client(), clock_);
  auto applied = apply(store, "edge", {{"name", bundleName("edge-ca")}});
  ASSERT_OK(applied);
  // A bundle with a server certificate in it: the API server takes CA certificates only.
  const std::string leaf = testing::issueLeaf(old_).certificate.toPem();
  auto copies = store.syncBundleCopies(*applied, oldCa_ + leaf);
  ASSERT_OK(copies);
  ASSERT_TRUE(copies->clusterTrustBundle.has_value());
  EXPECT_FALSE(copies->clusterTrustBundle->current);
  EXPECT_THAT(copies->clusterTrustBundle->message, HasSubstr("entry 1 does not have the CA bit set"));
}

TEST_F(ClusterTrustBundleContractTest, ASignerScopedBundleNeedsAttestOnItsSigner) {
  REQUIRE_CLUSTER_TRUST_BUNDLES();
  const std::string name = signerBundleName("edge-ca");
  const json spec = {{"name", name}, {"signerName", signer()}, {"labels", {{"rotor-test/bundle", "edge"}}}};
  const auto storeAs = [&](const std::filesystem::path& kubeconfig) {
    auto config = loadKubeconfig(kubeconfig.string());
    EXPECT_OK(config);
    auto transport = makeHttpsTransport(*config);
    EXPECT_OK(transport);
    return std::move(transport).value();
  };
  KubeStore admin(client(), clock_);
  auto applied = apply(admin, "edge", spec);
  ASSERT_OK(applied);

  // The documented rules without attest: the API server refuses, and the status says why.
  (void)cluster_.kubeconfigWithDocumentedRules("controller-rbac");
  auto withoutAttest = storeAs(cluster_.kubeconfigWithClusterRules("cluster-trust-bundles-rbac", {}));
  Client controller(*withoutAttest);
  auto copies = KubeStore(controller, clock_).syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  EXPECT_FALSE(copies->clusterTrustBundle->current);
  EXPECT_THAT(copies->clusterTrustBundle->message,
              HasSubstr("user not permitted to attest for signerName \"" + signer() + "\""));
  EXPECT_TRUE(bundleObject(name).status().code() == Code::kNotFound);

  // With attest on that signer by name: written, with its signer name.
  auto withAttest = storeAs(cluster_.kubeconfigWithClusterRules("cluster-trust-bundles-rbac", {signer()}));
  Client attesting(*withAttest);
  copies = KubeStore(attesting, clock_).syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  EXPECT_TRUE(copies->clusterTrustBundle->current) << copies->clusterTrustBundle->message;
  auto object = bundleObject(name);
  ASSERT_OK(object);
  EXPECT_EQ((*object)["spec"]["signerName"], signer());
  EXPECT_EQ((*object)["metadata"]["labels"]["rotor-test/bundle"], "edge");
}

TEST_F(ClusterTrustBundleContractTest, OneRotorDidNotMakeIsLeftAloneAndReportedForeign) {
  REQUIRE_CLUSTER_TRUST_BUNDLES();
  const std::string name = bundleName("theirs");
  ASSERT_OK(client().create(*type_, "",
                            {{"apiVersion", type_->apiVersion()},
                             {"kind", "ClusterTrustBundle"},
                             {"metadata", {{"name", name}}},
                             {"spec", {{"trustBundle", oldCa_}}}}));
  KubeStore store(client(), clock_);
  auto applied = apply(store, "edge", {{"name", name}});
  ASSERT_OK(applied);
  auto copies = store.syncBundleCopies(*applied, oldCa_ + newCa_);
  ASSERT_OK(copies);
  EXPECT_TRUE(copies->clusterTrustBundle->foreign);
  EXPECT_FALSE(copies->clusterTrustBundle->current);
  EXPECT_EQ((*bundleObject(name))["spec"]["trustBundle"], oldCa_) << "not rotor's: never written";
  ASSERT_OK(store.rotationGone(applied->key()));
  EXPECT_OK(bundleObject(name)) << "not rotor's: never removed";
}

TEST_F(ClusterTrustBundleContractTest, ItGoesWithItsRotationWithTheSpecAndWithTheResyncAfterACrash) {
  REQUIRE_CLUSTER_TRUST_BUNDLES();
  // Removed when the rotation is gone (the watch reports the deletion).
  KubeStore store(client(), clock_);
  const std::string first = bundleName("first");
  auto applied = apply(store, "first", {{"name", first}});
  ASSERT_OK(applied);
  ASSERT_OK(store.syncBundleCopies(*applied, oldCa_));
  ASSERT_OK(bundleObject(first));
  ASSERT_OK(store.rotationGone(applied->key()));
  EXPECT_EQ(bundleObject(first).status().code(), Code::kNotFound);

  // Removed when the spec stops naming it (the status still does).
  const std::string second = bundleName("second");
  applied = apply(store, "second", {{"name", second}});
  ASSERT_OK(applied);
  auto copies = store.syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  applied->status.bundleCopies = *copies;
  applied->spec.trustBundle.clusterTrustBundle.reset();
  copies = store.syncBundleCopies(*applied, oldCa_);
  ASSERT_OK(copies);
  EXPECT_FALSE(copies->clusterTrustBundle.has_value());
  EXPECT_EQ(bundleObject(second).status().code(), Code::kNotFound);

  // Left by a rotation deleted while no controller ran: the next resync removes it, and keeps
  // one whose rotation is still there.
  const std::string orphan = bundleName("orphan"), kept = bundleName("kept");
  auto orphaned = apply(store, "orphaned", {{"name", orphan}});
  auto alive = apply(store, "alive", {{"name", kept}});
  ASSERT_OK(orphaned);
  ASSERT_OK(alive);
  ASSERT_OK(store.syncBundleCopies(*orphaned, oldCa_));
  ASSERT_OK(store.syncBundleCopies(*alive, oldCa_));
  // Judging only this test's namespace, as a controller with --watch-namespace does.
  auto removed = KubeStore(client(), clock_, {.watchNamespace = ns()}).collectOrphans({alive->key()});
  ASSERT_OK(removed);
  EXPECT_GE(*removed, 1u);
  EXPECT_EQ(bundleObject(orphan).status().code(), Code::kNotFound);
  EXPECT_OK(bundleObject(kept));
}

}  // namespace
}  // namespace rotor::kube
