// The Kubernetes contract: what rotor relies on from an API server, checked against the fake by
// default and against a real server when ROTOR_TEST_KUBECONFIG points at one. Each test works in a
// namespace of its own and removes it at the end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "controller/api/json_codec.h"
#include "controller/api/yaml_codec.h"
#include "controller/kube/api_lease_store.h"
#include "controller/kube/event_writer.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/reflector.h"
#include "controller/kube/transport.h"
#include "controller/pki/base64.h"
#include "controller/pki/pkcs12.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/kube_objects.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_cluster.h"

namespace rotor::kube {
namespace {

using rotor::store::kube::kBundleCopyPart;
using rotor::store::kube::kBundleSourceAnnotation;
using rotor::store::kube::kPartLabel;
using rotor::store::kube::KubeStore;
using rotor::testing::configMapObject;
using rotor::testing::rotationObject;
using rotor::testing::StatusIs;
using rotor::testing::TestCluster;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

/** The certificates of the base64 PKCS#12 truststore `field` (as a ConfigMap's binaryData or a
 *  Secret's data holds it), read with `password`. */
StatusOr<std::vector<pki::Certificate>> truststoreIn(const json& field, const std::string& password) {
  ASSIGN_OR_RETURN(const std::string der, pki::base64Decode(field.get<std::string>()));
  return pki::readPkcs12Certificates(std::span(reinterpret_cast<const uint8_t*>(der.data()), der.size()), password);
}

class KubeContractTest : public ::testing::Test {
protected:
  TestCluster cluster_;
  Client& client() { return cluster_.client(); }
  const std::string& ns() { return cluster_.ns(); }

  /** Rotation `name` in ns(), as `store` applies it, copying its bundle into the namespaces
   *  labelled rotor-test/team=ns() (a value of this test's own: no other namespace matches). */
  StatusOr<api::CertificateRotation> applyCopying(KubeStore& store, const std::string& name, json object = {}) {
    if (object.is_null()) object = rotationObject(name);
    object["spec"]["trustBundle"]["namespaceSelector"] = {{"matchLabels", {{"rotor-test/team", ns()}}}};
    ASSIGN_OR_RETURN(api::CertificateRotation r, api::decodeRotation(object));
    r.metadata.ns = ns();
    return store.applyRotation(r);
  }
};

TEST_F(KubeContractTest, OptimisticConcurrencyOnEveryWrite) {
  auto created = client().create(kConfigMaps, ns(), configMapObject("cm"));
  ASSERT_OK(created);
  json first = *created, second = *created;
  first["data"]["k"] = "first";
  ASSERT_OK(client().update(kConfigMaps, ns(), first));
  second["data"]["k"] = "second";
  EXPECT_THAT(client().update(kConfigMaps, ns(), second), StatusIs(Code::kConflict));
  EXPECT_THAT(client().create(kConfigMaps, ns(), configMapObject("cm")), StatusIs(Code::kAlreadyExists));
  EXPECT_THAT(client().remove(kConfigMaps, ns(), "cm", {.uid = "00000000-0000-4000-8000-000000000000"}),
              StatusIs(Code::kConflict));
  EXPECT_OK(client().remove(kConfigMaps, ns(), "cm", {.uid = (*created)["metadata"]["uid"]}));
  EXPECT_THAT(client().get(kConfigMaps, ns(), "cm"), StatusIs(Code::kNotFound));
}

TEST_F(KubeContractTest, GenerationCountsSpecChangesAndStatusIsASubresource) {
  json submitted = rotationObject("gen");
  submitted["status"] = {{"phase", "Ready"}};
  auto created = client().create(kRotations, ns(), submitted);
  ASSERT_OK(created);
  EXPECT_EQ((*created)["metadata"]["generation"], 1);
  EXPECT_FALSE(created->contains("status"));  // dropped on create

  json labelled = *created;
  labelled["metadata"]["labels"] = {{"team", "edge"}};
  auto relabelled = client().update(kRotations, ns(), labelled);
  ASSERT_OK(relabelled);
  EXPECT_EQ((*relabelled)["metadata"]["generation"], 1);

  json status = *relabelled;
  status["status"] = {{"phase", "Issuing"}, {"observedGeneration", 1}};
  auto withStatus = client().updateStatus(kRotations, ns(), status);
  ASSERT_OK(withStatus);
  EXPECT_EQ((*withStatus)["metadata"]["generation"], 1);
  EXPECT_EQ((*withStatus)["status"]["phase"], "Issuing");

  json changed = *withStatus;
  changed["spec"]["adoption"]["threshold"] = 90;
  changed["status"]["phase"] = "Failed";  // ignored on the main resource
  auto updated = client().update(kRotations, ns(), changed);
  ASSERT_OK(updated);
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);
  EXPECT_EQ((*updated)["status"]["phase"], "Issuing");
}

TEST_F(KubeContractTest, TheSchemaRefusesInvalidRotationsWithFieldPaths) {
  EXPECT_THAT(client().create(kRotations, ns(), rotationObject("bad", 0)),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.adoption.threshold")));
  json missing = rotationObject("bad");
  missing["spec"]["ca"]["generate"].erase("commonName");
  EXPECT_THAT(client().create(kRotations, ns(), missing),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.ca.generate.commonName")));
  json noServers = rotationObject("bad");
  noServers["spec"]["servers"] = json::array();
  EXPECT_THAT(client().create(kRotations, ns(), noServers),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.servers")));
}

TEST_F(KubeContractTest, EveryBundledExampleIsAccepted) {
  // The shipped CRD was applied by the cluster fixture; a real server also runs its CEL rules.
  int accepted = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(rotor::testing::sourceDir() / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto documents = api::yamlToJsonDocuments(text);
    ASSERT_OK(documents);
    for (json object : *documents) {
      object["metadata"]["namespace"] = ns();
      object["metadata"]["name"] = "example-" + std::to_string(accepted);
      EXPECT_OK(client().create(kRotations, ns(), object)) << entry.path();
      ++accepted;
    }
  }
  EXPECT_GE(accepted, 6);
}

TEST_F(KubeContractTest, AnUnknownFieldInRotorsWritesIsAnErrorNotSilentlyPruned) {
  json surprise = rotationObject("strict");
  surprise["spec"]["surprise"] = true;
  EXPECT_THAT(client().create(kRotations, ns(), surprise),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.surprise")));
  EXPECT_THAT(client().get(kRotations, ns(), "strict"), StatusIs(Code::kNotFound));
}

TEST_F(KubeContractTest, ListsComeInPagesThatAddUp) {
  for (int i = 0; i < 7; ++i) ASSERT_OK(client().create(kConfigMaps, ns(), configMapObject("cm-" + std::to_string(i))));
  auto all = client().list(kConfigMaps, ns(), {.pageSize = 2});
  ASSERT_OK(all);
  std::vector<std::string> names;
  for (const json& item : all->items) {
    const std::string name = item["metadata"]["name"];
    if (name.starts_with("cm-")) names.push_back(name);  // a real namespace also holds kube-root-ca.crt
  }
  EXPECT_THAT(names, ElementsAre("cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"));
}

TEST_F(KubeContractTest, WatchesDeliverChangesInOrderFromAListsVersion) {
  auto start = client().list(kConfigMaps, ns());
  ASSERT_OK(start);
  std::mutex mu;
  std::vector<std::string> seen;
  std::promise<Status> ended;
  std::jthread watcher([&](std::stop_token stop) {
    ended.set_value(client().watch(
        kConfigMaps, ns(), {.resourceVersion = start->resourceVersion, .timeoutSeconds = 60},
        [&](const WatchEvent& e) {
          std::lock_guard lock(mu);
          // kube-controller-manager may publish kube-root-ca.crt meanwhile
          const std::string name = e.object["metadata"].value("name", "");
          if (e.type != "BOOKMARK" && name == "watched") seen.push_back(e.type + " " + name);
        },
        stop));
  });
  auto created = client().create(kConfigMaps, ns(), configMapObject("watched"));
  ASSERT_OK(created);
  (*created)["data"]["k"] = "w";
  ASSERT_OK(client().update(kConfigMaps, ns(), *created));
  ASSERT_OK(client().remove(kConfigMaps, ns(), "watched"));
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (seen.size() >= 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  watcher.request_stop();
  watcher.join();
  const Status watchEnded = ended.get_future().get();
  EXPECT_THAT(seen, ElementsAre("ADDED watched", "MODIFIED watched", "DELETED watched"))
      << "from version " << start->resourceVersion << "; the watch ended with: " << watchEnded.toString();
}

TEST_F(KubeContractTest, AWatchFromAnExpiredVersionIsGone) {
  if (cluster_.fake()) {
    ASSERT_OK(client().create(kConfigMaps, ns(), configMapObject("moves-the-window")));
    cluster_.fake()->expireWatchCache();
  }
  // Version 1 is older than any API server's watch window once etcd has compacted (every 5
  // minutes by default); a young real server may still serve it from etcd.
  const Status watched = client().watch(
      kConfigMaps, ns(), {.resourceVersion = "1", .timeoutSeconds = 5}, [](const WatchEvent&) {}, std::stop_token());
  if (!cluster_.fake() && watched.ok())
    GTEST_SKIP() << "this API server still serves revision 1 (etcd not compacted yet)";
  EXPECT_THAT(watched, StatusIs(Code::kGone));
}

TEST_F(KubeContractTest, AConfigMapHoldsAtMostOneMebibyteAndItsBinaryDataIsBase64) {
  // What agent shards rely on: the cap counts decoded bytes, data and binaryData together.
  json full = configMapObject("full");
  full["binaryData"] = {{"a", pki::base64Encode(std::string(1048576 - 10, 'x'))}};
  full["data"] = {{"b", std::string(10, 'y')}};
  EXPECT_OK(client().create(kConfigMaps, ns(), full));
  json over = configMapObject("over");
  over["binaryData"] = full["binaryData"];
  over["data"] = {{"b", std::string(11, 'y')}};
  EXPECT_THAT(client().create(kConfigMaps, ns(), over),
              StatusIs(Code::kInvalidArgument,
                       AllOf(HasSubstr("Too long"), HasSubstr("1048576 bytes"))));  // v1.25 and v1.32 word it apart
  json garbled = configMapObject("garbled");
  garbled["binaryData"] = {{"a", "not base64!"}};
  EXPECT_THAT(client().create(kConfigMaps, ns(), garbled),
              StatusIs(Code::kInvalidArgument, HasSubstr("illegal base64 data at input byte 3")));
}

TEST_F(KubeContractTest, EventsAndLeasesAreAccepted) {
  auto created = client().create(kRotations, ns(), rotationObject("evented"));
  ASSERT_OK(created);
  auto rotation = api::decodeRotation(*created);
  ASSERT_OK(rotation);
  RealClock clock;
  EventWriter events(client(), clock, "contract");
  EXPECT_OK(events.write(*rotation, false, "Reconcile", "Issued", "every server has a certificate"));

  ApiLeaseStore leases(client(), ns(), "rotor-contract");
  LeaseRecord lease{
      .holderIdentity = "a", .leaseDurationSeconds = 15, .acquireTime = clock.now(), .renewTime = clock.now()};
  ASSERT_OK(leases.create(lease));
  LeaseRecord stale = lease;
  lease.renewTime = clock.now();
  ASSERT_OK(leases.update(lease));
  EXPECT_THAT(leases.update(stale), StatusIs(Code::kConflict));
  EXPECT_THAT(leases.create(stale), StatusIs(Code::kAlreadyExists));
}

TEST_F(KubeContractTest, TheKubernetesStoreKeepsMaterialWhereDocumented) {
  RealClock clock;
  KubeStore store(client(), clock);
  auto r = api::decodeRotation(rotationObject("stored"));
  ASSERT_OK(r);
  r->metadata.ns = ns();
  auto applied = store.applyRotation(*r);
  ASSERT_OK(applied);
  ASSERT_OK(store.writeServed(*applied, "web", {"chain", "key", "ca"}, ""));
  const json secret = client().get(kSecrets, ns(), "stored-tls").value();
  EXPECT_EQ(secret["type"], "kubernetes.io/tls");
  ASSERT_OK(store.writeBundle(*applied, "bundle", ""));
  EXPECT_EQ(client().get(kConfigMaps, ns(), "stored-ca").value()["data"]["ca.crt"], "bundle");
  ASSERT_OK(
      store.putSnapshot(*applied, {.name = "stored-r1-swap", .takenAt = clock.now(), .revision = 1, .reason = "test"}));
  const json snapshot = client().get(kSecrets, ns(), "stored-snap-r1-swap").value();  // the rotation's name once
  EXPECT_EQ(snapshot["immutable"], true);
  EXPECT_EQ(snapshot["metadata"]["ownerReferences"][0]["uid"], applied->metadata.uid);
  // A snapshot an older release stored under "<rotation>-snap-<snapshot>" is still found.
  json legacy = snapshot;
  for (const char* server : {"uid", "resourceVersion", "creationTimestamp", "managedFields"})
    legacy["metadata"].erase(server);
  legacy["metadata"]["name"] = "stored-snap-stored-r0-swap";
  ASSERT_OK(client().create(kSecrets, ns(), legacy));
  auto found = store.getSnapshot(*applied, "stored-r0-swap");
  ASSERT_OK(found);
  EXPECT_EQ(found->name, "stored-r1-swap");  // the payload copied above names its own snapshot
}

TEST_F(KubeContractTest, TheBundleIsCopiedIntoTheNamespacesItsSelectorMatchesAndNoForeignObjectIsTouched) {
  RealClock clock;
  // A label value of this test's own, so that a real cluster's other namespaces never match.
  const std::string team = ns();
  auto a = cluster_.makeNamespace("a", {{"rotor-test/team", team}});
  auto b = cluster_.makeNamespace("b", {{"rotor-test/team", team}});
  auto c = cluster_.makeNamespace("c");
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  json foreign = configMapObject("copied-ca");
  foreign["data"] = {{"ca.crt", "someone else's"}};
  ASSERT_OK(client().create(kConfigMaps, *b, foreign));

  KubeStore applying(client(), clock);
  auto applied = applyCopying(applying, "copied");
  ASSERT_OK(applied);
  const auto sync = [&](const std::string& pem) {
    return KubeStore(client(), clock).syncBundleCopies(*applied, pem);  // a fresh store: nothing remembered
  };

  auto copies = sync("old+new");
  ASSERT_OK(copies);
  EXPECT_EQ(copies->wanted, 1);  // a; b holds a ConfigMap of that name rotor did not make
  EXPECT_EQ(copies->current, 1);
  EXPECT_THAT(copies->foreign, ElementsAre(*b));
  json copy = client().get(kConfigMaps, *a, "copied-ca").value();
  EXPECT_EQ(copy["data"]["ca.crt"], "old+new");
  EXPECT_EQ(copy["metadata"]["annotations"]["rotor.dev/bundle-source"], ns() + "/copied");
  EXPECT_EQ(copy["metadata"]["labels"]["rotor.dev/part"], "bundle-copy");
  EXPECT_EQ(client().get(kConfigMaps, *b, "copied-ca").value()["data"]["ca.crt"], "someone else's");
  EXPECT_THAT(client().get(kConfigMaps, *c, "copied-ca"), StatusIs(Code::kNotFound));

  // The bundle changes; c starts matching, a stops.
  ASSERT_OK(cluster_.labelNamespace(*c, {{"rotor-test/team", team}}));
  ASSERT_OK(cluster_.labelNamespace(*a, {{"rotor-test/team", nullptr}}));
  copies = sync("new");
  ASSERT_OK(copies);
  EXPECT_EQ(copies->wanted, 1);
  EXPECT_EQ(copies->current, 1);
  EXPECT_EQ(client().get(kConfigMaps, *c, "copied-ca").value()["data"]["ca.crt"], "new");
  EXPECT_THAT(client().get(kConfigMaps, *a, "copied-ca"), StatusIs(Code::kNotFound));
  EXPECT_EQ(client().get(kConfigMaps, *b, "copied-ca").value()["data"]["ca.crt"], "someone else's");

  // Without a selector every copy goes, and the foreign object stays (the status says there were
  // copies: a rotation that never copied looks in its own namespace only).
  applied->status.bundleCopies = *copies;
  applied->spec.trustBundle.namespaceSelector.reset();
  copies = sync("new");
  ASSERT_OK(copies);
  EXPECT_EQ(copies->wanted, 0);
  EXPECT_THAT(client().get(kConfigMaps, *c, "copied-ca"), StatusIs(Code::kNotFound));
  EXPECT_OK(client().get(kConfigMaps, *b, "copied-ca"));
  // The rotation's own namespace holds the bundle itself, never a copy.
  EXPECT_THAT(client().get(kConfigMaps, ns(), "copied-ca"), StatusIs(Code::kNotFound));
}

TEST_F(KubeContractTest, ATruststoreFollowsTheBundleInItsBinaryDataAndInEveryCopy) {
  RealClock clock;
  const std::string team = ns();
  auto a = cluster_.makeNamespace("a", {{"rotor-test/team", team}});
  ASSERT_OK(a);
  KubeStore store(client(), clock);
  auto applied = applyCopying(store, "java");
  ASSERT_OK(applied);
  const std::string oldCa = testing::makeCa("Old CA").certificate().toPem();
  const std::string both = oldCa + testing::makeCa("New CA").certificate().toPem();
  ASSERT_OK(store.writeBundle(*applied, oldCa, ""));
  ASSERT_OK(store.syncBundleCopies(*applied, oldCa));
  const auto truststore = [&](const std::string& where) -> std::optional<std::vector<std::string>> {
    const json cm = client().get(kConfigMaps, where, "java-ca").value();
    if (!cm.contains("binaryData") || !cm["binaryData"].contains("truststore.p12")) return std::nullopt;
    auto certificates = truststoreIn(cm["binaryData"]["truststore.p12"], "changeit");
    EXPECT_OK(certificates);
    std::vector<std::string> names;
    for (const pki::Certificate& c : certificates.value()) names.push_back(c.commonName());
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(truststore(ns()), std::nullopt) << "none asked for";

  // Asked for later: the bundle and its copy get one at the next sync; then it follows the bundle.
  applied->spec.trustBundle.truststore = api::TruststoreSpec{};
  ASSERT_OK(store.syncBundleCopies(*applied, oldCa));
  EXPECT_EQ(truststore(ns()), std::vector<std::string>{"Old CA"});
  EXPECT_EQ(truststore(*a), std::vector<std::string>{"Old CA"});
  auto bundle = store.readBundle(*applied);
  ASSERT_OK(bundle);
  ASSERT_OK(store.writeBundle(*applied, both, bundle->version));
  EXPECT_EQ(truststore(ns()), (std::vector<std::string>{"New CA", "Old CA"}));
  ASSERT_OK(store.syncBundleCopies(*applied, both));
  EXPECT_EQ(truststore(*a), (std::vector<std::string>{"New CA", "Old CA"}));

  // A new password remakes them.
  applied->spec.trustBundle.truststore->password = "s3cond";
  ASSERT_OK(store.syncBundleCopies(*applied, both));
  for (const std::string& where : {ns(), *a}) {
    const json cm = client().get(kConfigMaps, where, "java-ca").value();
    EXPECT_OK(truststoreIn(cm["binaryData"]["truststore.p12"], "s3cond")) << where;
  }

  // No longer asked for: rotor's truststores go, the PEM stays.
  applied->spec.trustBundle.truststore.reset();
  ASSERT_OK(store.syncBundleCopies(*applied, both));
  EXPECT_EQ(truststore(ns()), std::nullopt);
  EXPECT_EQ(truststore(*a), std::nullopt);
  EXPECT_EQ(client().get(kConfigMaps, *a, "java-ca").value()["data"]["ca.crt"], both);
}

TEST_F(KubeContractTest, ABundleInASecretIsCopiedAsSecretsWithItsTruststore) {
  RealClock clock;
  auto a = cluster_.makeNamespace("a", {{"rotor-test/team", ns()}});
  ASSERT_OK(a);
  json object = rotationObject("sealed");
  object["spec"]["trustBundle"] = {{"secretName", "sealed-ca"}, {"truststore", json::object()}};
  KubeStore store(client(), clock);
  auto applied = applyCopying(store, "sealed", object);
  ASSERT_OK(applied);
  const std::string pem = testing::makeCa("Sealed CA").certificate().toPem();
  ASSERT_OK(store.writeBundle(*applied, pem, ""));
  auto copies = store.syncBundleCopies(*applied, pem);
  ASSERT_OK(copies);
  EXPECT_EQ(copies->current, 1);
  for (const std::string& where : {ns(), *a}) {
    const json secret = client().get(kSecrets, where, "sealed-ca").value();
    EXPECT_EQ(secret["type"], "Opaque") << where;
    EXPECT_EQ(pki::base64Decode(secret["data"]["ca.crt"].get<std::string>()).value(), pem) << where;
    EXPECT_OK(truststoreIn(secret["data"]["truststore.p12"], "changeit")) << where;
    EXPECT_THAT(client().get(kConfigMaps, where, "sealed-ca"), StatusIs(Code::kNotFound)) << where;
  }
  auto read = store.readBundle(*applied);
  ASSERT_OK(read);
  EXPECT_EQ(read->value, pem);
  ASSERT_OK(store.deleteRotation(applied->key()));
  ASSERT_OK(store.rotationGone(applied->key()));
  EXPECT_THAT(client().get(kSecrets, *a, "sealed-ca"), StatusIs(Code::kNotFound));
}

TEST_F(KubeContractTest, ARotationThatIsGoneTakesItsCopiesAlongAndLeavesOthersObjects) {
  RealClock clock;
  const std::string team = ns();
  auto a = cluster_.makeNamespace("a", {{"rotor-test/team", team}});
  auto b = cluster_.makeNamespace("b", {{"rotor-test/team", team}});
  ASSERT_OK(a);
  ASSERT_OK(b);
  json foreign = configMapObject("gone-ca");
  foreign["data"] = {{"ca.crt", "someone else's"}};
  ASSERT_OK(client().create(kConfigMaps, *b, foreign));
  KubeStore store(client(), clock);
  auto applied = applyCopying(store, "gone");
  ASSERT_OK(applied);
  ASSERT_OK(store.syncBundleCopies(*applied, "pem"));
  ASSERT_OK(client().get(kConfigMaps, *a, "gone-ca"));
  // Owner references cannot reach another namespace: the rotation's deletion alone leaves the copy.
  ASSERT_OK(store.deleteRotation(applied->key()));
  ASSERT_OK(client().get(kConfigMaps, *a, "gone-ca"));
  ASSERT_OK(store.rotationGone(applied->key()));
  EXPECT_THAT(client().get(kConfigMaps, *a, "gone-ca"), StatusIs(Code::kNotFound));
  EXPECT_EQ(client().get(kConfigMaps, *b, "gone-ca").value()["data"]["ca.crt"], "someone else's");
  EXPECT_OK(store.rotationGone(applied->key())) << "again: nothing left to do";
}

TEST_F(KubeContractTest, AnAccessReviewSaysWhatTheCallerMayDoWithoutARefusal) {
  const auto answer = [](const StatusOr<bool>& allowed) -> std::string {
    return allowed.ok() ? (*allowed ? "yes" : "no") : allowed.status().message();
  };
  EXPECT_EQ(answer(client().allowed("list", kConfigMaps, "")), "yes") << "the admin";
  // A user holding the controller's documented rules in this namespace, and nothing else.
  auto config = rotor::kube::loadKubeconfig(cluster_.kubeconfigWithDocumentedRules("controller-rbac"));
  ASSERT_OK(config);
  auto transport = rotor::kube::makeHttpsTransport(*config);
  ASSERT_OK(transport);
  rotor::kube::Client controller(**transport);
  EXPECT_EQ(answer(controller.allowed("list", kConfigMaps, ns())), "yes");
  EXPECT_EQ(answer(controller.allowed("list", kConfigMaps, "")), "no") << "not in every namespace";
  EXPECT_EQ(answer(controller.allowed("list", kSecrets, "")), "no");
  EXPECT_EQ(answer(controller.allowed("delete", rotor::kube::kRotations, ns())), "no");
  if (cluster_.fake()) {
    EXPECT_THAT(cluster_.fake()->forbidden(), ::testing::IsEmpty()) << "asking is never refused";
  }
}

TEST_F(KubeContractTest, CopiesOfARotationDeletedWhileNoControllerRanGoWithTheNextResync) {
  RealClock clock;
  auto a = cluster_.makeNamespace("a", {{"rotor-test/team", ns()}});
  ASSERT_OK(a);
  KubeStore before(client(), clock);
  auto orphaned = applyCopying(before, "orphaned");
  auto kept = applyCopying(before, "kept");
  ASSERT_OK(orphaned);
  ASSERT_OK(kept);
  ASSERT_OK(before.syncBundleCopies(*orphaned, "pem"));
  ASSERT_OK(before.syncBundleCopies(*kept, "pem"));
  // A copy made by a controller of another namespace's rotations: not this one's to judge.
  json elsewhere = configMapObject("elsewhere-ca");
  elsewhere["metadata"]["labels"] = {{std::string(kPartLabel), std::string(kBundleCopyPart)}};
  elsewhere["metadata"]["annotations"] = {{std::string(kBundleSourceAnnotation), "elsewhere/rotation"}};
  ASSERT_OK(client().create(kConfigMaps, *a, elsewhere));
  ASSERT_OK(before.deleteRotation(orphaned->key()));

  // The controller that starts next never made those copies; its resync knows the rotations there are.
  KubeStore after(client(), clock, {.watchNamespace = ns()});
  auto collected = after.collectOrphans({kept->key()});
  ASSERT_OK(collected);
  EXPECT_EQ(*collected, 1u);
  EXPECT_THAT(client().get(kConfigMaps, *a, "orphaned-ca"), StatusIs(Code::kNotFound));
  EXPECT_OK(client().get(kConfigMaps, *a, "kept-ca"));
  EXPECT_OK(client().get(kConfigMaps, *a, "elsewhere-ca"));
  collected = after.collectOrphans({kept->key()});
  ASSERT_OK(collected);
  EXPECT_EQ(*collected, 0u) << "again: nothing left to do";
}

TEST_F(KubeContractTest, ConsumerPodsAreCountedAsTheKubeletReportsThemInTheBundlesNamespaces) {
  RealClock clock;
  const std::string team = ns();
  auto copied = cluster_.makeNamespace("copied", {{"rotor-test/team", team}});
  auto elsewhere = cluster_.makeNamespace("elsewhere");
  ASSERT_OK(copied);
  ASSERT_OK(elsewhere);
  json object = rotationObject("pods");
  object["spec"]["adoption"]["pods"] = json::object();
  KubeStore store(client(), clock);
  auto applied = applyCopying(store, "pods", object);
  ASSERT_OK(applied);
  ASSERT_OK(store.syncBundleCopies(*applied, "old+new"));

  // The moment every copy held the new CA; pods that started after it read it.
  const SystemTime since = truncateToSeconds(clock.now());
  const auto pod = [&](const std::string& podNs, const std::string& name, std::optional<SystemTime> startedAt,
                       const std::string& digest = "") {
    json p = testing::consumerPodObject(name, "pods-ca");
    if (!digest.empty()) p["metadata"]["annotations"] = {{std::string(api::kBundleDigestAnnotation), digest}};
    auto created = client().create(kPods, podNs, p);
    ASSERT_OK(created);
    if (!startedAt) return;  // Pending: no kubelet took it
    (*created)["status"] = testing::runningPodStatus(*created, *startedAt);
    ASSERT_OK(client().updateStatus(kPods, podNs, *created));
  };
  const std::string digest = "sha256:" + std::string(64, 'c');
  pod(ns(), "restarted", since + std::chrono::seconds(5));
  pod(ns(), "old", since - std::chrono::minutes(5));
  pod(ns(), "reloaded", since - std::chrono::minutes(5), digest);
  pod(ns(), "pending", std::nullopt);
  pod(*copied, "copy-reader", since + std::chrono::seconds(5));
  pod(*elsewhere, "no-copy-here", since + std::chrono::seconds(5));

  auto tally = store.tallyConsumerPods(*applied, {digest, since});
  ASSERT_OK(tally);
  EXPECT_EQ(tally->running, 4);  // not the Pending pod, nor the one where the bundle is not
  EXPECT_EQ(tally->adopted, 3);
  ASSERT_FALSE(tally->workloads.empty());
  EXPECT_EQ(tally->workloads.front().workload, (api::WorkloadRef{"Pod", ns(), "old"})) << "the laggard first";

  // Restarts reach only workloads in the bundle's namespaces, as a pod-template annotation.
  json deployment = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", "web"}}},
                     {"spec",
                      {{"replicas", 0},
                       {"selector", {{"matchLabels", {{"app", "web"}}}}},
                       {"template", testing::consumerPodObject("", "pods-ca")}}}};
  deployment["spec"]["template"].erase("apiVersion");
  deployment["spec"]["template"].erase("kind");
  deployment["spec"]["template"]["metadata"] = {{"labels", {{"app", "web"}}}};
  ASSERT_OK(client().create(kDeployments, *copied, deployment));
  ASSERT_OK(client().create(kDeployments, *elsewhere, deployment));
  ASSERT_OK(store.restartWorkload(*applied, {"Deployment", *copied, "web"}));
  EXPECT_TRUE(client()
                  .get(kDeployments, *copied, "web")
                  .value()["spec"]["template"]["metadata"]["annotations"]
                  .contains("rotor.dev/restartedAt"));
  EXPECT_THAT(store.restartWorkload(*applied, {"Deployment", *elsewhere, "web"}), StatusIs(Code::kFailedPrecondition));
  EXPECT_OK(store.workloadRollout(*applied, {"Deployment", *copied, "web"}));
}

TEST_F(KubeContractTest, ListsTakeFieldSelectorsOnNameAndNamespaceOnly) {
  ASSERT_OK(client().create(kConfigMaps, ns(), configMapObject("picked", {{"rotor-test", "fields"}})));
  ASSERT_OK(client().create(kConfigMaps, ns(), configMapObject("other", {{"rotor-test", "fields"}})));
  auto picked = client().list(kConfigMaps, "", {.fieldSelector = "metadata.name=picked"});
  ASSERT_OK(picked);
  std::vector<std::string> names;
  for (const json& item : picked->items) {
    if (item["metadata"]["namespace"] == ns()) names.push_back(item["metadata"]["name"]);
  }
  EXPECT_THAT(names, ElementsAre("picked"));
  // Beside the label selector (the namespace also holds the kube-root-ca.crt every namespace gets).
  auto notPicked = client().list(
      kConfigMaps, ns(),
      {.labelSelector = "rotor-test=fields", .fieldSelector = "metadata.namespace=" + ns() + ",metadata.name!=picked"});
  ASSERT_OK(notPicked);
  ASSERT_EQ(notPicked->items.size(), 1u);
  EXPECT_EQ(notPicked->items[0]["metadata"]["name"], "other");
  EXPECT_THAT(client().list(kConfigMaps, ns(), {.fieldSelector = "data.k=v"}),
              StatusIs(Code::kInvalidArgument, HasSubstr("\"data.k\" is not a known field selector")));
}

}  // namespace
}  // namespace rotor::kube
