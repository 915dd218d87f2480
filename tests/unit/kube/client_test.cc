// The Kubernetes client and its cpprestsdk transport against the fake API server over HTTPS.
#include "controller/kube/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/support/fake_cluster.h"
#include "tests/support/kube_objects.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"

namespace rotor::kube {
namespace {

using rotor::testing::configMapObject;
using rotor::testing::FakeCluster;
using rotor::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using rotor::testing::kTestNamespace;

/** Runs a hook after each request: lets a test change the server between a client's pages. */
class HookedTransport final : public Transport {
public:
  explicit HookedTransport(Transport& inner) : inner_(inner) {}
  StatusOr<ApiResponse> send(const ApiRequest& request) override {
    auto response = inner_.send(request);
    if (afterSend) afterSend();
    return response;
  }
  StatusOr<ApiResponse> stream(const ApiRequest& request, const std::function<bool(std::string_view)>& onLine,
                               std::stop_token stop) override {
    return inner_.stream(request, onLine, stop);
  }
  std::function<void()> afterSend;

private:
  Transport& inner_;
};

class ClientTest : public ::testing::Test {
protected:
  void SetUp() override { cluster_.installRotor(kTestNamespace); }

  Client client(ClientOptions options = {}) { return Client(cluster_.transport(), std::move(options)); }

  FakeCluster cluster_;
};

TEST_F(ClientTest, CreateGetUpdateAndStaleUpdate) {
  Client c = client();
  auto created = c.create(kConfigMaps, kTestNamespace, configMapObject("bundle"));
  ASSERT_OK(created);
  const std::string firstVersion = (*created)["metadata"]["resourceVersion"];
  EXPECT_THAT(c.create(kConfigMaps, kTestNamespace, configMapObject("bundle")), StatusIs(Code::kAlreadyExists));

  json changed = *created;
  changed["data"]["k"] = "w";
  auto updated = c.update(kConfigMaps, kTestNamespace, changed);
  ASSERT_OK(updated);
  EXPECT_NE((*updated)["metadata"]["resourceVersion"], firstVersion);
  EXPECT_EQ((*c.get(kConfigMaps, kTestNamespace, "bundle"))["data"]["k"], "w");

  // `changed` still carries the first version: someone else wrote in between.
  changed["data"]["k"] = "x";
  EXPECT_THAT(c.update(kConfigMaps, kTestNamespace, changed),
              StatusIs(Code::kConflict, HasSubstr("has been modified")));
  EXPECT_THAT(c.get(kConfigMaps, kTestNamespace, "missing"),
              StatusIs(Code::kNotFound, HasSubstr("\"missing\" not found")));
}

TEST_F(ClientTest, StatusSubresourceWritesOnlyStatus) {
  Client c = client();
  json rotation = {{"apiVersion", "rotor.dev/v1alpha1"},
                   {"kind", "CertificateRotation"},
                   {"metadata", {{"name", "edge"}}},
                   {"spec",
                    {{"certificate", {{"commonName", "edge.example.com"}}},
                     {"servers", json::array({{{"name", "edge"}, {"secretName", "edge-tls"}}})},
                     {"ca", {{"generate", {{"commonName", "Edge CA"}}}}},
                     {"trustBundle", {{"configMapName", "edge-trust"}}}}}};
  auto created = c.create(kRotations, kTestNamespace, rotation);
  ASSERT_OK(created);
  EXPECT_EQ((*created)["metadata"]["generation"], 1);
  json withStatus = *created;
  withStatus["status"] = {{"phase", "Issuing"}, {"observedGeneration", 1}};
  withStatus["spec"]["certificate"]["commonName"] = "ignored.example.com";
  auto written = c.updateStatus(kRotations, kTestNamespace, withStatus);
  ASSERT_OK(written);
  EXPECT_EQ((*written)["status"]["phase"], "Issuing");
  EXPECT_EQ((*written)["spec"]["certificate"]["commonName"], "edge.example.com");
  EXPECT_EQ((*written)["metadata"]["generation"], 1);
}

TEST_F(ClientTest, InvalidObjectsAreRefusedWithTheirCauses) {
  Client c = client();
  json rotation = {{"apiVersion", "rotor.dev/v1alpha1"},
                   {"kind", "CertificateRotation"},
                   {"metadata", {{"name", "bad"}}},
                   {"spec", {{"adoption", {{"threshold", 0}}}}}};
  EXPECT_THAT(c.create(kRotations, kTestNamespace, rotation),
              StatusIs(Code::kInvalidArgument, HasSubstr("spec.adoption.threshold")));
}

TEST_F(ClientTest, PatchesOfEveryKind) {
  Client c = client();
  ASSERT_OK(c.create(kConfigMaps, kTestNamespace, configMapObject("bundle")));
  auto merged = c.patch(kConfigMaps, kTestNamespace, "bundle", PatchType::kMerge, {{"data", {{"extra", "1"}}}});
  ASSERT_OK(merged);
  EXPECT_EQ((*merged)["data"]["extra"], "1");
  auto jsonPatched = c.patch(kConfigMaps, kTestNamespace, "bundle", PatchType::kJson,
                             json::array({{{"op", "remove"}, {"path", "/data/extra"}}}));
  ASSERT_OK(jsonPatched);
  EXPECT_FALSE((*jsonPatched)["data"].contains("extra"));
  const json failedTest = json::array({{{"op", "test"}, {"path", "/data/k"}, {"value", "other"}}});
  EXPECT_THAT(c.patch(kConfigMaps, kTestNamespace, "bundle", PatchType::kJson, failedTest),
              StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(c.patch(kConfigMaps, kTestNamespace, "missing", PatchType::kMerge, json::object()),
              StatusIs(Code::kNotFound));
}

TEST_F(ClientTest, DeleteWithPreconditions) {
  Client c = client();
  auto created = c.create(kConfigMaps, kTestNamespace, configMapObject("bundle"));
  ASSERT_OK(created);
  const std::string uid = (*created)["metadata"]["uid"];
  EXPECT_THAT(c.remove(kConfigMaps, kTestNamespace, "bundle", {.uid = "00000000-0000-4000-8000-000000000000"}),
              StatusIs(Code::kConflict, HasSubstr("UID in the precondition")));
  EXPECT_THAT(c.remove(kConfigMaps, kTestNamespace, "bundle", {.resourceVersion = "1"}),
              StatusIs(Code::kConflict, HasSubstr("ResourceVersion in the precondition")));
  EXPECT_OK(c.remove(kConfigMaps, kTestNamespace, "bundle", {.uid = uid}));
  EXPECT_THAT(c.remove(kConfigMaps, kTestNamespace, "bundle"), StatusIs(Code::kNotFound));
}

TEST_F(ClientTest, ListReadsEveryPageWithSelectors) {
  Client c = client();
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK(c.create(kConfigMaps, kTestNamespace,
                       configMapObject("cm-" + std::to_string(i), {{"tier", i % 2 ? "odd" : "even"}})));
  }
  auto all = c.list(kConfigMaps, kTestNamespace, {.labelSelector = "tier", .pageSize = 2});  // not kube-root-ca.crt
  ASSERT_OK(all);
  EXPECT_EQ(all->items.size(), 7u);
  EXPECT_FALSE(all->resourceVersion.empty());
  auto odd = c.list(kConfigMaps, kTestNamespace, {.labelSelector = "tier=odd", .pageSize = 2});
  ASSERT_OK(odd);
  std::vector<std::string> names;
  for (const json& item : odd->items) names.push_back(item["metadata"]["name"]);
  EXPECT_THAT(names, ElementsAre("cm-1", "cm-3", "cm-5"));
  auto everywhere = c.list(kNamespaces, "");
  ASSERT_OK(everywhere);
  EXPECT_EQ(everywhere->items.size(), 2u);  // default and rotor-test
}

TEST_F(ClientTest, ListStartsOverWhenItsContinueTokenExpires) {
  const std::map<std::string, std::string> paged = {{"set", "paged"}};  // kube-root-ca.crt is not
  for (int i = 0; i < 5; ++i)
    ASSERT_OK(client().create(kConfigMaps, kTestNamespace, configMapObject("cm-" + std::to_string(i), paged)));
  HookedTransport hooked(cluster_.transport());
  int pages = 0;
  hooked.afterSend = [&] {
    if (++pages == 1) {
      // Another write, then compaction: the first page's snapshot is gone before page 2.
      ASSERT_OK(client().create(kConfigMaps, kTestNamespace, configMapObject("cm-late", paged)));
      cluster_.api().compact();
    }
  };
  Client c(hooked);
  auto all = c.list(kConfigMaps, kTestNamespace, {.labelSelector = "set=paged", .pageSize = 2});
  ASSERT_OK(all);
  EXPECT_EQ(all->items.size(), 6u);
  EXPECT_EQ(pages, 5);  // page 1, the expired page 2, then three pages of the fresh list
}

TEST_F(ClientTest, ThrottledRequestsAreRetriedAfterTheTimeAskedFor) {
  std::vector<std::chrono::seconds> waits;
  Client c = client({.sleep = [&](std::chrono::seconds d) { waits.push_back(d); }});
  cluster_.api().throttleNextRequests(2);
  EXPECT_OK(c.create(kConfigMaps, kTestNamespace, configMapObject("bundle")));
  EXPECT_THAT(waits, ElementsAre(std::chrono::seconds(1), std::chrono::seconds(1)));

  cluster_.api().throttleNextRequests(5);
  EXPECT_THAT(c.get(kConfigMaps, kTestNamespace, "bundle"),
              StatusIs(Code::kUnavailable, HasSubstr("Too many requests")));
}

TEST_F(ClientTest, CredentialsTheServerRefuses) {
  cluster_.api().addUser("limited-token", "limited-user");
  cluster_.api().grant("limited-user", {"get"}, "/configmaps");
  auto limitedTransport = makeHttpsTransport(cluster_.config("limited-token"));
  ASSERT_OK(limitedTransport);
  Client limited(**limitedTransport);
  EXPECT_THAT(limited.get(kConfigMaps, kTestNamespace, "bundle"), StatusIs(Code::kNotFound));  // allowed, absent
  EXPECT_THAT(limited.create(kConfigMaps, kTestNamespace, configMapObject("bundle")),
              StatusIs(Code::kPermissionDenied,
                       HasSubstr("User \"limited-user\" cannot create resource \"configmaps\" in API group \"\" in "
                                 "the namespace \"rotor-test\"")));
  EXPECT_THAT(cluster_.api().forbidden(), ElementsAre("create /configmaps"));

  auto unknownTransport = makeHttpsTransport(cluster_.config("not-a-token"));
  ASSERT_OK(unknownTransport);
  EXPECT_THAT(Client(**unknownTransport).get(kConfigMaps, kTestNamespace, "bundle"), StatusIs(Code::kUnauthenticated));
}

TEST_F(ClientTest, ServerCertificateMustChainToTheClusterCa) {
  kube::ClusterConfig wrongCa = cluster_.config();
  wrongCa.caPem = rotor::testing::makeCa("some other CA").certificate().toPem();
  auto transport = makeHttpsTransport(wrongCa);
  ASSERT_OK(transport);
  EXPECT_THAT(Client(**transport).get(kConfigMaps, kTestNamespace, "bundle"), StatusIs(Code::kUnavailable));
}

/** Collects a watch's events on its own thread. */
class WatchRun {
public:
  WatchRun(Client& client, const ResourceType& type, std::string ns, WatchOptions options) {
    thread_ = std::jthread([this, &client, &type, ns, options](std::stop_token stop) {
      result_.set_value(client.watch(
          type, ns, options,
          [this](const WatchEvent& e) {
            std::lock_guard lock(mu_);
            events_.push_back(e);
          },
          stop));
    });
    done_ = result_.get_future();
  }
  /** Events seen so far as "TYPE name" ("BOOKMARK rv" for bookmarks). */
  std::vector<std::string> seen() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const WatchEvent& e : events_) {
      out.push_back(e.type + " " +
                    (e.type == "BOOKMARK" ? e.object["metadata"]["resourceVersion"].get<std::string>()
                                          : e.object["metadata"]["name"].get<std::string>()));
    }
    return out;
  }
  bool waitFor(size_t count, std::chrono::seconds within = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (seen().size() >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  /** The watch's result once it ends on its own. */
  Status result(std::chrono::seconds within = std::chrono::seconds(10)) {
    if (done_.wait_for(within) != std::future_status::ready) return internalError("the watch did not end");
    return done_.get();
  }
  void stop() { thread_.request_stop(); }

private:
  std::mutex mu_;
  std::vector<WatchEvent> events_;
  std::promise<Status> result_;
  std::future<Status> done_;
  std::jthread thread_;
};

TEST_F(ClientTest, WatchDeliversChangesInOrderAndEndsAtTheTimeout) {
  Client c = client();
  auto start = c.list(kConfigMaps, kTestNamespace);
  ASSERT_OK(start);
  WatchRun run(c, kConfigMaps, kTestNamespace,
               {.resourceVersion = start->resourceVersion, .timeoutSeconds = 2, .allowBookmarks = false});
  auto created = c.create(kConfigMaps, kTestNamespace, configMapObject("bundle"));
  ASSERT_OK(created);
  (*created)["data"]["k"] = "w";
  ASSERT_OK(c.update(kConfigMaps, kTestNamespace, *created));
  EXPECT_THAT(c.create(kConfigMaps, "elsewhere", configMapObject("other")), StatusIs(Code::kNotFound));
  ASSERT_OK(c.remove(kConfigMaps, kTestNamespace, "bundle"));
  ASSERT_TRUE(run.waitFor(3));
  EXPECT_OK(run.result());  // the server's timeout ends the stream without an error
  EXPECT_THAT(run.seen(), ElementsAre("ADDED bundle", "MODIFIED bundle", "DELETED bundle"));
}

TEST_F(ClientTest, WatchCarriesBookmarksAndLongBodiesCutAcrossChunks) {
  cluster_.api().setBookmarkInterval(std::chrono::milliseconds(200));
  Client c = client();
  auto start = c.list(kConfigMaps, kTestNamespace);
  ASSERT_OK(start);
  // Several events buffered before the watch starts go out as 2 KiB chunks that cut events apart.
  for (int i = 0; i < 6; ++i) {
    json big = configMapObject("big-" + std::to_string(i));
    big["data"]["blob"] = std::string(1500, 'a' + i);
    ASSERT_OK(c.create(kConfigMaps, kTestNamespace, big));
  }
  WatchRun run(c, kConfigMaps, kTestNamespace, {.resourceVersion = start->resourceVersion, .timeoutSeconds = 5});
  ASSERT_TRUE(run.waitFor(7));
  const std::vector<std::string> seen = run.seen();
  EXPECT_THAT(std::vector<std::string>(seen.begin(), seen.begin() + 6),
              ElementsAre("ADDED big-0", "ADDED big-1", "ADDED big-2", "ADDED big-3", "ADDED big-4", "ADDED big-5"));
  EXPECT_EQ(seen[6], "BOOKMARK " + std::to_string(cluster_.api().resourceVersion()));
  run.stop();
  EXPECT_OK(run.result());
}

TEST_F(ClientTest, WatchFromBeforeTheCacheWindowIsGone) {
  Client c = client();
  auto start = c.list(kConfigMaps, kTestNamespace);
  ASSERT_OK(start);
  ASSERT_OK(c.create(kConfigMaps, kTestNamespace, configMapObject("bundle")));
  cluster_.api().expireWatchCache();
  WatchRun run(c, kConfigMaps, kTestNamespace, {.resourceVersion = start->resourceVersion, .timeoutSeconds = 5});
  EXPECT_THAT(run.result(), StatusIs(Code::kGone, HasSubstr("too old resource version")));
}

TEST_F(ClientTest, WatchEndsWhenStopped) {
  Client c = client();
  WatchRun run(c, kConfigMaps, kTestNamespace, {.timeoutSeconds = 300});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  run.stop();
  EXPECT_OK(run.result(std::chrono::seconds(5)));
}

TEST(ResourceTypeTest, Paths) {
  EXPECT_EQ(kSecrets.path("ns"), "/api/v1/namespaces/ns/secrets");
  EXPECT_EQ(kRotations.path("ns", "edge", "status"),
            "/apis/rotor.dev/v1alpha1/namespaces/ns/certificaterotations/edge/status");
  EXPECT_EQ(kRotations.path(""), "/apis/rotor.dev/v1alpha1/certificaterotations");
  EXPECT_EQ(kNamespaces.path("ignored", "rotor"), "/api/v1/namespaces/rotor");
  EXPECT_EQ(kLeases.apiVersion(), "coordination.k8s.io/v1");
}

}  // namespace
}  // namespace rotor::kube
