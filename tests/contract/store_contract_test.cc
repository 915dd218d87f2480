// The Store contract: every implementation runs this suite. A behaviour a reconciler relies on
// belongs here. The Kubernetes store joins with its fake API server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/store/kube/kube_store.h"
#include "controller/store/local/local_store.h"
#include "tests/support/agent_records.h"
#include "tests/support/fake_clock.h"
#include "tests/support/full_status.h"
#include "tests/support/memory_store.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace rotor::store {
namespace {

using rotor::testing::StatusIs;
using ::testing::ElementsAre;

struct MemoryBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store{clock};
  Store& get() { return store; }
};

struct LocalBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::TempDir dir;
  std::unique_ptr<local::LocalStore> store = std::move(local::LocalStore::open({.root = dir.path()}, clock)).value();
  Store& get() { return *store; }
};

/** The Kubernetes store against the fake API server over HTTPS, or against a real one when
 *  ROTOR_TEST_KUBECONFIG names it (in a namespace of its own). */
struct KubeBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::TestCluster cluster;
  store::kube::KubeStore store{cluster.client(), clock, {.watchNamespace = cluster.ns()}};
  Store& get() { return store; }
  /** Servers present Secrets and the bundle is a ConfigMap here, not files. */
  void adapt(CertificateRotation& r) const {
    r.metadata.ns = cluster.ns();
    for (api::ServerSpec& s : r.spec.servers) {
      s = {.name = s.name, .secretName = r.metadata.name + "-" + s.name + "-tls"};
    }
    r.spec.trustBundle = {.configMapName = r.metadata.name + "-trust"};
  }
};

template <typename Backend>
class StoreContractTest : public ::testing::Test {
protected:
  Backend backend;
  Store& store() { return backend.get(); }

  CertificateRotation desired(const std::string& name = "proxy") {
    CertificateRotation r;
    r.metadata.name = name;
    r.spec.certificate.commonName = "proxy.example.com";
    r.spec.servers.push_back({.name = "a", .certFile = "certs/a.crt", .keyFile = "certs/a.key"});
    r.spec.servers.push_back({.name = "b", .certFile = "certs-b/b.crt", .keyFile = "certs-b/b.key"});
    r.spec.ca.generate = api::CaGenerateSpec{"Root", std::chrono::hours(24 * 365), {}};
    r.spec.trustBundle.file = "trust/bundle.pem";
    if constexpr (requires { backend.adapt(r); }) backend.adapt(r);
    return r;
  }

  ServedMaterial material(const std::string& tag) {
    auto ca = rotor::testing::makeCa("Root " + tag);
    auto leaf = rotor::testing::issueLeaf(ca);
    return {leaf.certificate.toPem(), leaf.key.toPem(), ca.certificate().toPem()};
  }
};

using Backends = ::testing::Types<MemoryBackend, LocalBackend, KubeBackend>;
TYPED_TEST_SUITE(StoreContractTest, Backends);

TYPED_TEST(StoreContractTest, ApplyCreatesThenBumpsGenerationOnlyOnSpecChange) {
  auto created = this->store().applyRotation(this->desired());
  ASSERT_OK(created);
  EXPECT_EQ(created->metadata.generation, 1);
  EXPECT_FALSE(created->metadata.uid.empty());
  EXPECT_FALSE(created->metadata.resourceVersion.empty());
  EXPECT_TRUE(created->metadata.creationTimestamp.has_value());

  auto same = this->store().applyRotation(this->desired());
  ASSERT_OK(same);
  EXPECT_EQ(same->metadata.resourceVersion, created->metadata.resourceVersion);

  CertificateRotation labelled = this->desired();
  labelled.metadata.labels["team"] = "edge";
  auto relabelled = this->store().applyRotation(labelled);
  ASSERT_OK(relabelled);
  EXPECT_EQ(relabelled->metadata.generation, 1);
  EXPECT_NE(relabelled->metadata.resourceVersion, created->metadata.resourceVersion);

  CertificateRotation changed = this->desired();
  changed.spec.adoption.threshold = 90;
  auto updated = this->store().applyRotation(changed);
  ASSERT_OK(updated);
  EXPECT_EQ(updated->metadata.generation, 2);
  EXPECT_EQ(updated->metadata.uid, created->metadata.uid);
  EXPECT_EQ(updated->metadata.labels.at("team"), "edge");
}

TYPED_TEST(StoreContractTest, StatusWritesNeedTheCurrentVersion) {
  auto r = this->store().applyRotation(this->desired()).value();
  CertificateRotation stale = r;
  r.status.phase = api::Phase::kIssuing;
  ASSERT_OK(this->store().updateRotationStatus(r));
  EXPECT_NE(r.metadata.resourceVersion, stale.metadata.resourceVersion);
  stale.status.phase = api::Phase::kFailed;
  EXPECT_THAT(this->store().updateRotationStatus(stale), StatusIs(Code::kConflict));
  auto read = this->store().getRotation(r.key());
  ASSERT_OK(read);
  EXPECT_EQ(read->status.phase, api::Phase::kIssuing);
  EXPECT_EQ(read->metadata.generation, 1);  // status never bumps the generation
}

TYPED_TEST(StoreContractTest, EveryStatusFieldSurvivesAWriteAndARead) {
  // On a real API server, a field the CRD's status schema lacks is pruned without a word.
  auto r = this->store().applyRotation(this->desired()).value();
  r.status = rotor::testing::everyStatusField();
  r.status.observedGeneration = r.metadata.generation;
  ASSERT_OK(this->store().updateRotationStatus(r));
  auto read = this->store().getRotation(r.key());
  ASSERT_OK(read);
  EXPECT_EQ(read->status, r.status);
}

TYPED_TEST(StoreContractTest, SpecUpdatesNeedTheCurrentVersionAndKeepStatus) {
  auto r = this->store().applyRotation(this->desired()).value();
  r.status.phase = api::Phase::kReady;
  ASSERT_OK(this->store().updateRotationStatus(r));
  CertificateRotation edit = this->store().getRotation(r.key()).value();
  edit.metadata.annotations[std::string(api::kRotateAnnotation)] = "1";
  edit.spec.paused = true;
  ASSERT_OK(this->store().updateRotation(edit));
  EXPECT_EQ(edit.metadata.generation, 2);
  EXPECT_EQ(edit.status.phase, api::Phase::kReady);
  CertificateRotation stale = r;
  EXPECT_THAT(this->store().updateRotation(stale), StatusIs(Code::kConflict));
}

TYPED_TEST(StoreContractTest, GetListAndDelete) {
  ASSERT_OK(this->store().applyRotation(this->desired("b-rotation")));
  ASSERT_OK(this->store().applyRotation(this->desired("a-rotation")));
  auto all = this->store().listRotations(store::kAllNamespaces);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].metadata.name, "a-rotation");
  const std::string ns = (*all)[0].metadata.ns;
  auto inNamespace = this->store().listRotations(ns);
  ASSERT_OK(inNamespace);
  EXPECT_EQ(inNamespace->size(), 2u);
  auto elsewhere = this->store().listRotations(ns + "-other");
  ASSERT_OK(elsewhere);
  EXPECT_TRUE(elsewhere->empty());
  const ObjectKey a = this->desired("a-rotation").key();
  ASSERT_OK(this->store().deleteRotation(a));
  EXPECT_THAT(this->store().getRotation(a), StatusIs(Code::kNotFound));
  EXPECT_THAT(this->store().deleteRotation(a), StatusIs(Code::kNotFound));
}

TYPED_TEST(StoreContractTest, ServedMaterialRoundTripsWithOptimisticConcurrency) {
  auto r = this->store().applyRotation(this->desired()).value();
  auto empty = this->store().readServed(r, "a");
  ASSERT_OK(empty);
  EXPECT_FALSE(empty->value.has_value());
  ServedMaterial first = this->material("1");
  ASSERT_OK(this->store().writeServed(r, "a", first, empty->version));
  auto read = this->store().readServed(r, "a");
  ASSERT_OK(read);
  EXPECT_EQ(read->value, first);
  EXPECT_THAT(this->store().writeServed(r, "a", this->material("2"), empty->version), StatusIs(Code::kConflict));
  ServedMaterial second = this->material("3");
  ASSERT_OK(this->store().writeServed(r, "a", second, read->version));
  EXPECT_EQ(this->store().readServed(r, "a")->value, second);
  EXPECT_FALSE(this->store().readServed(r, "b")->value.has_value());
  EXPECT_THAT(this->store().readServed(r, "nope"), StatusIs(Code::kNotFound));
}

TYPED_TEST(StoreContractTest, BundleAndAuthoritiesRoundTrip) {
  auto r = this->store().applyRotation(this->desired()).value();
  auto bundle = this->store().readBundle(r).value();
  EXPECT_FALSE(bundle.value.has_value());
  auto ca = rotor::testing::makeCa("Root");
  ASSERT_OK(this->store().writeBundle(r, ca.certificate().toPem(), bundle.version));
  EXPECT_EQ(*this->store().readBundle(r)->value, ca.certificate().toPem());
  EXPECT_THAT(this->store().writeBundle(r, "x", bundle.version), StatusIs(Code::kConflict));

  auto auth = this->store().readAuthorities(r).value();
  EXPECT_FALSE(auth.value.current.has_value());
  Authorities a;
  a.current = AuthorityMaterial{ca.certificate().toPem(), ca.key().toPem()};
  ASSERT_OK(this->store().writeAuthorities(r, a, auth.version));
  auto back = this->store().readAuthorities(r).value();
  EXPECT_EQ(back.value, a);
  EXPECT_THAT(this->store().writeAuthorities(r, a, auth.version), StatusIs(Code::kConflict));
  ASSERT_OK(this->store().writeAuthorities(r, a, back.version));
}

TYPED_TEST(StoreContractTest, SnapshotsAreIdempotentByNameAndListedOldestFirst) {
  auto r = this->store().applyRotation(this->desired()).value();
  Snapshot s{"proxy-r1-swap",
             rotor::testing::fixtureNow(),
             1,
             "before swap",
             {{"a", this->material("a")}, {"b", this->material("b")}},
             "bundle-pem\n"};
  ASSERT_OK(this->store().putSnapshot(r, s));
  ASSERT_OK(this->store().putSnapshot(r, s));
  Snapshot other = s;
  other.reason = "different";
  EXPECT_THAT(this->store().putSnapshot(r, other), StatusIs(Code::kAlreadyExists));
  auto back = this->store().getSnapshot(r, "proxy-r1-swap");
  ASSERT_OK(back);
  EXPECT_EQ(*back, s);
  Snapshot later = s;
  later.name = "proxy-r1-prune";
  later.takenAt += std::chrono::hours(1);
  ASSERT_OK(this->store().putSnapshot(r, later));
  EXPECT_THAT(*this->store().listSnapshots(r), ElementsAre("proxy-r1-swap", "proxy-r1-prune"));
  EXPECT_THAT(this->store().getSnapshot(r, "missing"), StatusIs(Code::kNotFound));
}

std::string fingerprintOf(char digit) { return "sha256:" + std::string(64, digit); }

TYPED_TEST(StoreContractTest, AgentRecordsNeedTheRotation) {
  auto r = this->store().applyRotation(this->desired()).value();
  AgentRecord a{"agent-1", rotor::testing::fixtureNow(), {fingerprintOf('a')}, "1.0"};
  ASSERT_OK(rotor::testing::putAgent(this->store(), r.key(), a));
  a.trusted.push_back(fingerprintOf('b'));
  ASSERT_OK(rotor::testing::putAgent(this->store(), r.key(), a));
  auto agents = rotor::testing::listAgents(this->store(), r.key());
  ASSERT_OK(agents);
  ASSERT_EQ(agents->size(), 1u);
  EXPECT_EQ(agents->front(), a);
  EXPECT_THAT(rotor::testing::putAgent(this->store(), {"default", "missing"}, a), StatusIs(Code::kNotFound));
}

TYPED_TEST(StoreContractTest, AgentBatchesUpsertByIdAndVisitEachAgentOnce) {
  auto r = this->store().applyRotation(this->desired()).value();
  const SystemTime t0 = rotor::testing::fixtureNow();
  ASSERT_OK(this->store().putAgents(r.key(), {{"a", t0, {}, ""}, {"b", t0, {fingerprintOf('1')}, "2.0"}}));
  ASSERT_OK(this->store().putAgents(r.key(), {{"a", t0 + std::chrono::seconds(5), {fingerprintOf('2')}, "2.1"},
                                              {"c", t0, {fingerprintOf('1'), fingerprintOf('2')}, ""}}));
  std::map<std::string, AgentRecord> seen;
  ASSERT_OK(this->store().visitAgents(
      r.key(), [&](const AgentRecord& a) { EXPECT_TRUE(seen.emplace(a.id, a).second) << a.id << " visited twice"; }));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen["a"], (AgentRecord{"a", t0 + std::chrono::seconds(5), {fingerprintOf('2')}, "2.1"}));
  EXPECT_EQ(seen["b"].trusted, std::vector<std::string>{fingerprintOf('1')});
  EXPECT_EQ(seen["c"].trusted.size(), 2u);
}

TYPED_TEST(StoreContractTest, InvalidAgentRecordsAreRefusedWhole) {
  auto r = this->store().applyRotation(this->desired()).value();
  const SystemTime t0 = rotor::testing::fixtureNow();
  const std::vector<AgentRecord> bad[] = {
      {{"ok", t0, {}, ""}, {"has space", t0, {}, ""}},
      {{"ok", t0, {"sha256:abc"}, ""}},
      {{"ok", t0, {fingerprintOf('A')}, ""}},
      {{"ok", t0, {}, "1 .0"}},
      {{std::string(kMaxAgentIdLength + 1, 'x'), t0, {}, ""}},
      {{"", t0, {}, ""}},
  };
  for (const auto& batch : bad) {
    EXPECT_THAT(this->store().putAgents(r.key(), batch), StatusIs(Code::kInvalidArgument));
  }
  EXPECT_THAT(*rotor::testing::listAgents(this->store(), r.key()), ::testing::IsEmpty());
}

TYPED_TEST(StoreContractTest, TokenDigestsAccumulateAndGoWithTheRotation) {
  auto r = this->store().applyRotation(this->desired()).value();
  EXPECT_THAT(*this->store().readAgentTokenDigests(r.key()), ::testing::IsEmpty());
  ASSERT_OK(this->store().addAgentTokenDigest(r.key(), std::string(64, 'a')));
  ASSERT_OK(this->store().addAgentTokenDigest(r.key(), std::string(64, 'b')));
  EXPECT_THAT(*this->store().readAgentTokenDigests(r.key()), ElementsAre(std::string(64, 'a'), std::string(64, 'b')));
  EXPECT_THAT(this->store().addAgentTokenDigest({"default", "missing"}, std::string(64, 'c')),
              StatusIs(Code::kNotFound));
  ASSERT_OK(rotor::testing::putAgent(this->store(), r.key(), {"a", rotor::testing::fixtureNow(), {}, ""}));
  ASSERT_OK(this->store().deleteRotation(r.key()));
  auto again = this->store().applyRotation(this->desired()).value();
  EXPECT_THAT(*this->store().readAgentTokenDigests(again.key()), ::testing::IsEmpty());
  EXPECT_THAT(*rotor::testing::listAgents(this->store(), again.key()), ::testing::IsEmpty());
}

TYPED_TEST(StoreContractTest, ReloadOfAServerWithoutCommandSucceeds) {
  auto r = this->store().applyRotation(this->desired()).value();
  EXPECT_OK(this->store().reload(r, "a"));
  EXPECT_THAT(this->store().reload(r, "nope"), StatusIs(Code::kNotFound));
}

}  // namespace
}  // namespace rotor::store
