// End to end, agentless adoption in Kubernetes mode: the rotor binary rotates a CA whose clients
// are three Deployments in two namespaces, none running an agent. One restarts itself, one is
// restarted by rotor's policy (spec.adoption.pods.restartWorkloads), one reloads the bundle and
// says so with the rotor.dev/bundle-digest annotation. The gate holds until all three adopted;
// the bundle is copied to the second namespace and pruned in both; a foreign ConfigMap of the
// bundle's name stays untouched. Against the fake API server by default, a real one when
// ROTOR_TEST_KUBECONFIG names one. No kubelet runs on either: the test plays it (and, on the
// fake, the Deployment controller too).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "controller/api/rotation.h"
#include "controller/kube/client.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/kube_objects.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace rotor::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kBundleName[] = "shop-ca";

std::string rotationYaml(const std::string& team) {
  return R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: shop}
spec:
  certificate: {commonName: shop.svc, dnsNames: [shop.svc]}
  servers: [{name: web, secretName: shop-tls}]
  ca: {generate: {commonName: Shop CA}}
  trustBundle: {configMapName: shop-ca, namespaceSelector: {matchLabels: {rotor-test/shop: )" +
         team + R"(}}}
  adoption: {threshold: 100, pods: {restartWorkloads: true, maxConcurrentRestarts: 1}}
  swap: {bakeTime: 1s, probe: {period: 1s, failureThreshold: 3}}
  prune: {after: 1s}
)";
}

/** A Deployment of `replicas` pods that mount the bundle. */
json clientDeployment(const std::string& name, int replicas) {
  const json labels = {{"app", name}};
  json pod = consumerPodObject("", kBundleName);
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", labels}}},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod["spec"]}}}}}};
}

/**
 * Plays the node for the client Deployments: every pod that is not running yet starts now (its
 * containers' startedAt), except the new pods of a Deployment on hold, whose rollout so waits. On
 * the fake, which has no controller-manager, it also plays the Deployment controller's rolling
 * update: pods named after the template's generation, the old ones deleted once the new ones all
 * run, then the status written.
 */
class Node {
public:
  Node(kube::Client& client, std::set<std::pair<std::string, std::string>> deployments, bool fake)
      : client_(client), deployments_(std::move(deployments)), fake_(fake) {
    loop_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        for (const auto& [ns, name] : deployments_) step(ns, name);
        sleepUnlessStopped(stop, std::chrono::milliseconds(200));
      }
    });
  }
  void hold(const std::string& name, bool on) {
    std::lock_guard lock(mu_);
    if (on) {
      held_.insert(name);
    } else {
      held_.erase(name);
    }
  }

private:
  bool held(const std::string& name) {
    std::lock_guard lock(mu_);
    return held_.contains(name);
  }
  void step(const std::string& ns, const std::string& name) {
    auto deployment = client_.get(kube::kDeployments, ns, name);
    if (!deployment.ok()) return;
    const int64_t generation = deployment->value("/metadata/generation"_json_pointer, int64_t{1});
    const int64_t replicas = deployment->value("/spec/replicas"_json_pointer, int64_t{1});
    const std::string hash = "g" + std::to_string(generation);
    auto pods = client_.list(kube::kPods, ns, {.labelSelector = "app=" + name});
    if (!pods.ok()) return;
    const bool onHold = held(name);
    int64_t current = 0;
    std::set<std::string> names;
    std::vector<std::string> old;
    for (json& pod : pods->items) {
      const std::string podName = pod["metadata"]["name"];
      names.insert(podName);
      const bool isNew = pod.value("/metadata/labels/pod-template-hash"_json_pointer, std::string()) == hash;
      if (fake_ && !isNew) {
        old.push_back(podName);
        continue;
      }
      const bool running = pod.value("/status/phase"_json_pointer, std::string()) == "Running";
      if (!running && !onHold) {
        pod["status"] = runningPodStatus(pod, std::chrono::system_clock::now());
        pod["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}},
                                       {{"type", "ContainersReady"}, {"status", "True"}}};
        (void)client_.updateStatus(kube::kPods, ns, pod);
      }
      if (isNew && running) ++current;
    }
    if (!fake_ || onHold) return;
    for (int64_t i = 0; i < replicas; ++i) {
      const std::string podName = name + "-" + hash + "-" + std::to_string(i);
      if (names.contains(podName)) continue;
      json pod = {{"apiVersion", "v1"},
                  {"kind", "Pod"},
                  {"metadata",
                   {{"name", podName},
                    {"labels", {{"app", name}, {"pod-template-hash", hash}}},
                    {"ownerReferences", json::array({{{"apiVersion", "apps/v1"},
                                                      {"kind", "ReplicaSet"},
                                                      {"name", name + "-" + hash},
                                                      {"uid", "rs-" + name + "-" + hash},
                                                      {"controller", true}}})}}},
                  {"spec", (*deployment)["spec"]["template"]["spec"]}};
      (void)client_.create(kube::kPods, ns, pod);
    }
    if (current < replicas) return;
    for (const std::string& podName : old) (void)client_.remove(kube::kPods, ns, podName);  // rolled over
    if (deployment->value("/status/observedGeneration"_json_pointer, int64_t{0}) != generation) {
      (*deployment)["status"] = {{"observedGeneration", generation},
                                 {"replicas", replicas},
                                 {"updatedReplicas", replicas},
                                 {"readyReplicas", replicas},
                                 {"availableReplicas", replicas}};
      (void)client_.updateStatus(kube::kDeployments, ns, *deployment);
    }
  }

  kube::Client& client_;
  const std::set<std::pair<std::string, std::string>> deployments_;
  const bool fake_;
  std::mutex mu_;
  std::set<std::string> held_;
  std::jthread loop_;  // last: stopped first
};

TEST(ConsumerPodsEndToEnd, TheGateHoldsUntilThreeClientDeploymentsInTwoNamespacesAdoptedTheNewCa) {
  TestCluster cluster;
  TempDir dir;
  kube::Client& client = cluster.client();
  const std::string& home = cluster.ns();
  const std::string team = home;  // a label value of this test's own
  ASSERT_OK(cluster.labelNamespace(home, {{"rotor-test/shop", team}}));
  auto apps = cluster.makeNamespace("apps", {{"rotor-test/shop", team}});
  auto pinned = cluster.makeNamespace("pinned", {{"rotor-test/shop", team}});
  ASSERT_OK(apps);
  ASSERT_OK(pinned);
  json foreign = configMapObject(kBundleName);
  foreign["data"] = {{"ca.crt", "pinned by hand"}};
  ASSERT_OK(client.create(kube::kConfigMaps, *pinned, foreign));

  // selfish restarts itself; rolled is rotor's to restart; reloader reports the digest it loaded.
  ASSERT_OK(client.create(kube::kDeployments, home, clientDeployment("selfish", 1)));
  ASSERT_OK(client.create(kube::kDeployments, home, clientDeployment("reloader", 1)));
  ASSERT_OK(client.create(kube::kDeployments, *apps, clientDeployment("rolled", 2)));
  Node node(client, {{home, "selfish"}, {home, "reloader"}, {*apps, "rolled"}}, cluster.fake() != nullptr);
  const auto runningPods = [&](const std::string& ns, const std::string& app) {
    auto pods = client.list(kube::kPods, ns, {.labelSelector = "app=" + app});
    int n = 0;
    for (const json& p : pods.ok() ? pods->items : std::vector<json>{}) {
      n += p.value("/status/phase"_json_pointer, std::string()) == "Running";
    }
    return n;
  };
  ASSERT_TRUE(eventually([&] {
    return runningPods(home, "selfish") == 1 && runningPods(home, "reloader") == 1 && runningPods(*apps, "rolled") == 2;
  }));

  const std::string kubeconfig = cluster.adminKubeconfig().string();
  const auto rotor = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {rotorBinary(), "--kubeconfig", kubeconfig, "-n", home});
    ChildProcess cli(args, dir.path() / "cli.log");
    const int code = cli.wait(std::chrono::seconds(30)).value_or(-1);
    EXPECT_EQ(code, 0) << cli.output();
    return cli.output();
  };
  rotor({"apply", "-f", dir.write("shop.yaml", rotationYaml(team)).string()});
  // Copies and pods are across namespaces, beyond the namespaced grant (docs/rbac.md: their rules
  // are cluster-wide, which the chart test checks): the controller runs as admin here.
  ChildProcess controller({rotorBinary(), "controller", "--kubeconfig", kubeconfig, "--log-level", "debug"},
                          dir.path() / "controller.log");
  const auto rotation = [&] { return client.get(kube::kRotations, home, "shop").value(); };
  const auto phase = [&] { return rotation().value("/status/phase"_json_pointer, std::string()); };
  const auto bundleIn = [&](const std::string& ns) {
    auto cm = client.get(kube::kConfigMaps, ns, kBundleName);
    return cm.ok() ? cm->value("/data/ca.crt"_json_pointer, std::string()) : "";
  };
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && !bundleIn(*apps).empty(); })) << controller.output();

  node.hold("rolled", true);
  rotor({"rotate", "shop"});
  // rotor restarts rolled first: it has the most pods left to adopt.
  ASSERT_TRUE(eventually([&] {
    const json pods = rotation().value("/status/pods"_json_pointer, json::object());
    return pods.value("restarting", json::array()).size() == 1 && pods["restarting"][0].value("name", "") == "rolled";
  })) << controller.output();
  const json staged = rotation();
  EXPECT_EQ(staged["status"]["phase"], "AwaitingAdoption");
  EXPECT_EQ(staged["status"]["pods"]["running"], 4);
  EXPECT_EQ(bundleIn(*apps), bundleIn(home)) << "the copy holds old and new";
  EXPECT_EQ(pki::parsePemBundle(bundleIn(home)).value().size(), 2u);

  // selfish restarts itself once the bundle holds the new CA (after bundleSince, to the second).
  SystemTime since;
  ASSERT_TRUE(parseRfc3339(staged["status"]["pods"]["bundleSince"].get<std::string>(), since));
  while (std::chrono::system_clock::now() < since + std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_OK(
      client.patch(kube::kDeployments, home, "selfish", kube::PatchType::kMerge,
                   {{"spec", {{"template", {{"metadata", {{"annotations", {{"example.com/restart", "1"}}}}}}}}}}));
  // reloader reads the bundle again and reports its digest.
  const std::string digest = "sha256:" + pki::sha256Hex(bundleIn(home));
  auto reloaders = client.list(kube::kPods, home, {.labelSelector = "app=reloader"});
  ASSERT_OK(reloaders);
  for (const json& pod : reloaders->items) {
    ASSERT_OK(
        client.patch(kube::kPods, home, pod["metadata"]["name"].get<std::string>(), kube::PatchType::kMerge,
                     {{"metadata", {{"annotations", {{std::string(rotor::api::kBundleDigestAnnotation), digest}}}}}}));
  }
  ASSERT_TRUE(eventually([&] { return rotation().value("/status/pods/adopted"_json_pointer, 0) == 2; }))
      << controller.output();
  // Two of three have adopted; rolled's rollout is held: the gate holds.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  json waiting = rotation();
  EXPECT_EQ(waiting["status"]["phase"], "AwaitingAdoption");
  EXPECT_THAT(waiting["status"]["message"].get<std::string>(),
              HasSubstr("Waiting for 1 restarted workloads to roll out: Deployment " + *apps +
                        "/rolled; 2/4 running consumer pods"));
  EXPECT_EQ(waiting["status"]["pods"]["workloads"][0]["name"], "rolled") << "the laggard first";

  node.hold("rolled", false);
  ASSERT_TRUE(
      eventually([&] { return phase() == "Ready" && rotation().value("/status/revision"_json_pointer, 0) == 2; },
                 std::chrono::seconds(120)))
      << controller.output();
  const json done = rotation();
  EXPECT_EQ(done["status"]["pods"]["restarted"],
            json::array({{{"kind", "Deployment"}, {"namespace", *apps}, {"name", "rolled"}}}))
      << "only rolled was rotor's to restart";
  EXPECT_EQ(pki::parsePemBundle(bundleIn(home)).value().size(), 1u) << "pruned";
  EXPECT_EQ(bundleIn(*apps), bundleIn(home));
  EXPECT_EQ(bundleIn(*pinned), "pinned by hand");
  EXPECT_THAT(rotor({"status", "shop"}), HasSubstr("Restarted: Deployment " + *apps + "/rolled"));
  EXPECT_THAT(rotor({"agents", "shop"}), HasSubstr("Deployment " + *apps + "/rolled   2      2"));
  EXPECT_THAT(controller.output(), ::testing::Not(HasSubstr("forbidden")));
}

}  // namespace
}  // namespace rotor::testing
