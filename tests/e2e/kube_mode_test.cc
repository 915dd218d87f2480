// End to end in Kubernetes mode: the rotor binary as controller(s) and agents, as a user holding
// only the controller rules of docs/rbac.md, through a full CA rotation with agents (on the fake
// also while the watch breaks and writes conflict), a rollback, a wait that writes nothing, and a
// leader failover. Against the fake API server over HTTPS by default; against a real one when
// ROTOR_TEST_KUBECONFIG (admin) and ROTOR_TEST_CONTROLLER_KUBECONFIG (a user without rights)
// name one. No kubelet runs on either: the test plays it, so that restarted workloads roll out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <thread>

#include "controller/kube/client.h"
#include "controller/pki/base64.h"
#include "controller/pki/bundle.h"
#include "controller/pki/verify.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace rotor::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const char* kRotation = R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: edge-proxy}
spec:
  certificate: {commonName: edge-proxy.edge.svc, dnsNames: [edge-proxy.edge.svc]}
  servers:
    - name: proxy
      secretName: edge-proxy-tls
      restart: {kind: Deployment, name: edge-proxy}
  ca:
    generate: {commonName: Edge Proxy CA}
  trustBundle: {configMapName: edge-proxy-ca}
  adoption: {threshold: 100, minStageDuration: 1s}
  swap: {bakeTime: 1s, probe: {period: 1s, failureThreshold: 3}}
  prune: {after: 1s}
)";

/** The Deployment the rotation restarts: two replicas of a pod that never runs anywhere. */
json edgeProxyDeployment() {
  const json labels = {{"app", "edge-proxy"}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "edge-proxy"}}},
          {"spec",
           {{"replicas", 2},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec", {{"containers", {{{"name", "proxy"}, {"image", "registry.invalid/edge-proxy:1"}}}}}}}}}}};
}

/**
 * Plays the kubelet for the Deployment until destroyed. On a real server the controller-manager
 * makes ReplicaSets and Pods and this marks every pod running and ready, as a kubelet would; the
 * fake has no controller-manager, so this writes the Deployment's status as the two would.
 */
class Kubelet {
public:
  Kubelet(kube::Client& client, std::string ns, bool fake)
      : loop_([&client, ns = std::move(ns), fake](std::stop_token stop) {
          while (!stop.stop_requested()) {
            fake ? rollOutDeployment(client, ns) : runPods(client, ns);
            sleepUnlessStopped(stop, std::chrono::milliseconds(200));
          }
        }) {}

private:
  static void rollOutDeployment(kube::Client& client, const std::string& ns) {
    auto deployment = client.get(kube::kDeployments, ns, "edge-proxy");
    if (!deployment.ok()) return;
    const int64_t generation = deployment->value("/metadata/generation"_json_pointer, int64_t{0});
    const int64_t replicas = deployment->value("/spec/replicas"_json_pointer, int64_t{1});
    if (deployment->value("/status/observedGeneration"_json_pointer, int64_t{0}) == generation) return;
    (*deployment)["status"] = {{"observedGeneration", generation},
                               {"replicas", replicas},
                               {"updatedReplicas", replicas},
                               {"readyReplicas", replicas},
                               {"availableReplicas", replicas}};
    (void)client.updateStatus(kube::kDeployments, ns, *deployment);
  }
  static void runPods(kube::Client& client, const std::string& ns) {
    static constexpr kube::ResourceType kPods{"", "v1", "pods", "Pod", true};
    auto pods = client.list(kPods, ns, {.labelSelector = "app=edge-proxy"});
    if (!pods.ok()) return;
    for (json& pod : pods->items) {
      if (pod.value("/status/phase"_json_pointer, std::string()) == "Running") continue;
      const std::string now = formatRfc3339(std::chrono::system_clock::now());
      pod["status"] = {{"phase", "Running"},
                       {"startTime", now},
                       {"conditions",
                        {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now}},
                         {{"type", "ContainersReady"}, {"status", "True"}, {"lastTransitionTime", now}}}}};
      (void)client.updateStatus(kPods, ns, pod);
    }
  }

  std::jthread loop_;
};

class KubeModeTest : public ::testing::Test {
protected:
  void TearDown() override {
    // Nothing the controller asked for was refused: the documented rules are enough.
    if (cluster_.fake()) {
      EXPECT_EQ(cluster_.fake()->forbidden(), expectedRefusals_);
    }
    for (const std::string& log : controllerLogs_) {
      EXPECT_THAT(log, ::testing::Not(HasSubstr("forbidden"))) << log;
    }
  }

  void SetUp() override {
    // As OpenShift does by default (a real server runs it when started with the plugin).
    if (cluster_.fake()) cluster_.fake()->enforceOwnerReferencePermissions(true);
    // The controller runs as a user with only the documented rules in its namespace; the CLI as admin.
    controllerKubeconfig_ = cluster_.kubeconfigWithDocumentedRules("controller-rbac").string();
    kubeconfig_ = cluster_.adminKubeconfig().string();
    ASSERT_OK(client().create(kube::kDeployments, ns(), edgeProxyDeployment()));
    ASSERT_EQ(rotor({"apply", "-f", dir_.write("rotation.yaml", kRotation).string()}), 0);
  }

  kube::Client& client() { return cluster_.client(); }
  const std::string& ns() { return cluster_.ns(); }

  /** Runs the rotor CLI as `kubeconfig`'s user to completion: its exit status and output. */
  std::pair<int, std::string> rotorAs(const std::string& kubeconfig, std::vector<std::string> args) {
    args.insert(args.begin(), {rotorBinary(), "--kubeconfig", kubeconfig, "-n", ns()});
    ChildProcess cli(args, dir_.path() / ("cli-" + std::to_string(++commands_) + ".log"));
    const int code = cli.wait(std::chrono::seconds(30)).value_or(-1);
    return {code, cli.output()};
  }
  /** Runs the rotor CLI as admin; its exit status, which should be 0. */
  int rotor(std::vector<std::string> args) {
    const std::string verb = args.front();
    auto [code, output] = rotorAs(kubeconfig_, std::move(args));
    if (code != 0) ADD_FAILURE() << "rotor " << verb << " exited " << code << ":\n" << output;
    return code;
  }

  std::unique_ptr<ChildProcess> controller(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {rotorBinary(),       "controller", "--kubeconfig", controllerKubeconfig_,
                                     "--watch-namespace", ns(),         "--log-level",  "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_.path() / (name + ".log"));
  }
  /** Keeps what a controller logged for TearDown's check. */
  void finished(const ChildProcess& process) { controllerLogs_.push_back(process.output()); }

  json rotation() { return client().get(kube::kRotations, ns(), "edge-proxy").value(); }
  std::string phase() { return rotation().value("/status/phase"_json_pointer, std::string()); }
  int64_t revision() { return rotation().value("/status/revision"_json_pointer, int64_t{0}); }

  std::string secretValue(const std::string& name, const std::string& key) {
    const json secret = client().get(kube::kSecrets, ns(), name).value();
    return pki::base64Decode(secret["data"][key].get<std::string>()).value();
  }
  std::string bundle() {
    return client().get(kube::kConfigMaps, ns(), "edge-proxy-ca").value()["data"]["ca.crt"].get<std::string>();
  }
  std::string leaseHolder() {
    auto lease = client().get(kube::kLeases, ns(), "rotor-controller");
    return lease.ok() ? lease->value("/spec/holderIdentity"_json_pointer, std::string()) : "";
  }

  RealClock clock_;
  TestCluster cluster_;
  TempDir dir_;
  Kubelet kubelet_{cluster_.client(), cluster_.ns(), cluster_.fake() != nullptr};
  std::string kubeconfig_, controllerKubeconfig_;
  std::vector<std::string> controllerLogs_;
  std::vector<std::string> expectedRefusals_;
  int commands_ = 0;  // requests a test makes to see them refused
};

TEST_F(KubeModeTest, CaRotationWithAgentsThroughBrokenWatchesAndConflictStormsThenRollback) {
  const int adoptionPort = freeLoopbackPort();
  auto a =
      controller("controller", {"--adoption-addr", "127.0.0.1:" + std::to_string(adoptionPort), "--adoption-insecure"});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << a->output();
  const std::string firstCa = bundle();

  // Two agents keep trust stores in step with the bundle and report what they trust.
  const std::string tokenFile = (dir_.path() / "token").string();
  ASSERT_EQ(rotor({"token", "edge-proxy", "--file", tokenFile}), 0);
  std::vector<std::unique_ptr<ChildProcess>> agents;
  for (const char* id : {"agent-1", "agent-2"}) {
    agents.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{rotorBinary(), "agent", "--server", "http://127.0.0.1:" + std::to_string(adoptionPort),
                                 "--rotation", ns() + "/edge-proxy", "--id", id, "--token-file", tokenFile,
                                 "--trust-store", (dir_.path() / (std::string(id) + ".pem")).string(), "--interval",
                                 "1s"},
        dir_.path() / (std::string(id) + ".log")));
  }
  const auto trustStore = [&](const std::string& id) {
    std::ifstream in(dir_.path() / (id + ".pem"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  ASSERT_TRUE(eventually([&] { return trustStore("agent-1") == firstCa && trustStore("agent-2") == firstCa; }))
      << a->output();

  ASSERT_EQ(rotor({"rotate", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "AwaitingAdoption" || revision() == 2; })) << a->output();
  // Mid-rotation: the watch breaks and its resourceVersion falls out of the server's window, and
  // the next writes all meet 409 Conflict.
  if (cluster_.fake()) {
    cluster_.fake()->expireWatches();
    cluster_.fake()->failNextWrites(20);
  }
  ASSERT_TRUE(eventually([&] { return revision() == 2 && phase() == "Ready"; }, std::chrono::seconds(90)))
      << a->output();

  // The served chain is the new CA's and verifies against the bundle, which no longer holds the old CA.
  const std::string served = secretValue("edge-proxy-tls", "tls.crt");
  auto chain = pki::parsePemBundle(served);
  ASSERT_OK(chain);
  auto trusted = pki::parsePemBundle(bundle());
  ASSERT_OK(trusted);
  ASSERT_EQ(trusted->size(), 1u);
  EXPECT_NE(bundle(), firstCa);
  EXPECT_TRUE(chain->front().isSignedBy(trusted->front()));
  for (const char* id : {"agent-1", "agent-2"}) {
    EXPECT_TRUE(eventually([&] { return trustStore(id) == bundle(); }, std::chrono::seconds(10))) << id;
  }
  // The Deployment was restarted as kubectl rollout restart does, the swap verified only once it
  // rolled out, and the story is in Events.
  const json deployment = client().get(kube::kDeployments, ns(), "edge-proxy").value();
  EXPECT_TRUE(deployment["spec"]["template"]["metadata"]["annotations"].contains(store::kube::kRestartedAtAnnotation));
  EXPECT_EQ(deployment["status"]["observedGeneration"], deployment["metadata"]["generation"]);
  EXPECT_EQ(deployment["status"]["updatedReplicas"], 2);
  const json server = rotation()["status"]["servers"][0];
  ASSERT_TRUE(server.contains("rolledOutAt")) << server;
  EXPECT_GE(server["rolledOutAt"].get<std::string>(), server["swappedAt"].get<std::string>());
  if (!cluster_.fake()) {
    // What kubectl users see: a percentage and an expiry a person can read.
    ChildProcess kubectl({"/usr/bin/env", "kubectl", "--kubeconfig", kubeconfig_, "get", "certrot", "-n", ns()},
                         dir_.path() / "kubectl.log");
    ASSERT_EQ(kubectl.wait(std::chrono::seconds(30)), 0) << kubectl.output();
    EXPECT_THAT(kubectl.output(),
                ::testing::ContainsRegex("edge-proxy +Ready +100% +20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T"))
        << kubectl.output();
  }
  auto events = client().list(kube::kEvents, ns());
  ASSERT_OK(events);
  EXPECT_GE(events->items.size(), 5u);
  if (cluster_.fake()) {
    // The broken watch was listed again, and every conflict was met and retried.
    EXPECT_THAT(a->output(), HasSubstr("too old resource version"));
    EXPECT_EQ(cluster_.fake()->conflictsLeft(), 0);
  }

  // Rollback to the latest snapshot puts its material back in the Secret.
  ASSERT_EQ(rotor({"rollback", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "RolledBack"; })) << a->output();
  store::kube::KubeStore store(client(), clock_);
  auto decoded = store.getRotation({ns(), "edge-proxy"});
  ASSERT_OK(decoded);
  auto names = store.listSnapshots(*decoded);
  ASSERT_OK(names);
  ASSERT_FALSE(names->empty());
  auto snapshot = store.getSnapshot(*decoded, decoded->status.handled.rollbackTo);
  ASSERT_OK(snapshot);
  EXPECT_EQ(secretValue("edge-proxy-tls", "tls.crt"), snapshot->servers.at("proxy").certificateChainPem);

  // A CA renewal under the same key: the Secret's certificate then verifies against the bundle
  // as it was before it, which clients that have not re-read it still hold.
  const std::string bundleBefore = bundle();
  const std::string caBefore = rotation()["status"]["ca"]["current"]["fingerprint"];
  ASSERT_EQ(rotor({"rotate", "edge-proxy", "--renew-ca"}), 0);
  ASSERT_TRUE(
      eventually([&] { return phase() == "Ready" && rotation()["status"]["ca"]["current"]["fingerprint"] != caBefore; },
                 std::chrono::seconds(90)))
      << a->output();
  auto renewedChain = pki::parsePemBundle(secretValue("edge-proxy-tls", "tls.crt"));
  ASSERT_OK(renewedChain);
  EXPECT_OK(pki::verifyChain(renewedChain->front(), {}, pki::parsePemBundle(bundleBefore).value(), clock_.now()));
  std::vector<std::string> inBundle;
  for (const auto& f : pki::fingerprints(pki::parsePemBundle(bundle()).value())) inBundle.push_back(f.toString());
  EXPECT_THAT(inBundle, ::testing::Contains(rotation()["status"]["ca"]["current"]["fingerprint"].get<std::string>()));

  // No key or token outside the Secrets meant for them: not in Events, the rotation's status, the
  // ConfigMaps, or anything the controller and agents logged.
  std::vector<std::string> secrets(1);
  std::ifstream token(tokenFile);
  std::getline(token, secrets.front());
  const kube::ObjectList allSecrets = client().list(kube::kSecrets, ns()).value();
  for (const json& secret : allSecrets.items) {
    const json data = secret.value("data", json::object());
    for (const auto& [key, value] : data.items()) {
      const auto pem = pki::base64Decode(value.get<std::string>());
      if (!pem.ok() || pem->find("PRIVATE KEY-----") == std::string::npos) continue;
      std::istringstream lines(*pem);
      for (std::string line; std::getline(lines, line);) {
        const bool base64 =
            line.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
            std::string::npos;
        if (line.size() >= 32 && base64) secrets.push_back(line.substr(line.size() - 32));  // a key's PEM body
      }
    }
  }
  ASSERT_GE(secrets.size(), 10u) << "too few key lines found to scan for";
  std::string outputs = a->output() + rotation().dump() +
                        json(client().list(kube::kEvents, ns()).value().items).dump() +
                        json(client().list(kube::kConfigMaps, ns()).value().items).dump();
  for (const auto& agent : agents) outputs += agent->output();
  EXPECT_EQ(outputs.find("PRIVATE KEY"), std::string::npos);
  for (const std::string& secret : secrets) EXPECT_EQ(outputs.find(secret), std::string::npos) << secret;
  finished(*a);
}

/**
 * How many times slower than a plain build the controller runs (ROTOR_TEST_SLOWDOWN, 1 unless
 * set): an instrumented controller on a busy machine may miss a short renew deadline and rightly
 * step down, which is not what a test of the follower's takeover asks about.
 */
int slowdown() {
  const char* value = std::getenv("ROTOR_TEST_SLOWDOWN");
  return value != nullptr && std::atoi(value) > 1 ? std::atoi(value) : 1;
}

TEST_F(KubeModeTest, AFollowerTakesOverWithinTheLeaseWhenTheLeaderIsKilled) {
  const std::chrono::milliseconds lease(3000 * slowdown()), renewDeadline(2000 * slowdown()),
      retryPeriod(500 * slowdown());
  const auto flag = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; };
  const std::vector<std::string> election = {"--leader-elect",
                                             "--leader-election-namespace",
                                             ns(),
                                             "--lease-duration",
                                             flag(lease),
                                             "--renew-deadline",
                                             flag(renewDeadline),
                                             "--retry-period",
                                             flag(retryPeriod)};
  auto first = controller("first", election);
  ASSERT_TRUE(eventually([&] { return !leaseHolder().empty(); })) << first->output();
  auto second = controller("second", election);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << first->output();
  const std::string leader = leaseHolder();
  ASSERT_THAT(leader, HasSubstr("_" + std::to_string(first->pid())));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_THAT(second->output(), HasSubstr("Waiting to lead"));
  ASSERT_THAT(second->output(), ::testing::Not(HasSubstr("Started controller")))
      << "the first controller stopped leading before it was killed:\n"
      << first->output();

  const auto killedAt = std::chrono::steady_clock::now();
  first->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return leaseHolder().find("_" + std::to_string(second->pid())) != std::string::npos; },
                         std::chrono::duration_cast<std::chrono::seconds>(lease * 3)))
      << second->output();
  const auto tookOver = std::chrono::steady_clock::now() - killedAt;
  // The follower waits out the lease from when it last saw it change, checking every retry period.
  EXPECT_LT(tookOver, lease + 2 * retryPeriod)
      << "took over after " << std::chrono::duration_cast<std::chrono::milliseconds>(tookOver).count() << " ms";
  std::cout << "takeover after leader SIGKILL: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(tookOver).count() << " ms (lease " << lease.count()
            << " ms)\n";

  // The new leader reconciles: a renewal requested now completes.
  const std::string before = secretValue("edge-proxy-tls", "tls.crt");
  ASSERT_EQ(rotor({"rotate", "edge-proxy", "--renew"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && secretValue("edge-proxy-tls", "tls.crt") != before; }))
      << second->output();
  finished(*second);
}

TEST_F(KubeModeTest, ALeaderStopsAtItsRenewDeadlineWhileTheApiServerHangs) {
  // Its requests wait for the 30 s timeout; its renew deadline is 2 s. Another replica may lead
  // after the lease expires, so this one must be gone before the server answers again.
  if (!cluster_.fake()) GTEST_SKIP() << "freezing needs the fake API server";
  auto leader = controller("leader", {"--leader-elect", "--leader-election-namespace", ns(), "--lease-duration", "3s",
                                      "--renew-deadline", "2s", "--retry-period", "500ms"});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << leader->output();
  cluster_.fake()->freeze(true);
  const std::optional<int> exited = leader->wait(std::chrono::seconds(15));
  cluster_.fake()->freeze(false);
  ASSERT_TRUE(exited.has_value()) << "still running while the API server hung:\n" << leader->output();
  EXPECT_EQ(*exited, 1);
  EXPECT_THAT(leader->output(), HasSubstr("Lost leadership"));
}

TEST_F(KubeModeTest, AnOperatorWithOnlyTheDocumentedNamespacedRightsUsesEveryVerb) {
  // An operator bound to the documented rules in one namespace (a RoleBinding), not cluster-wide.
  const std::string operatorConfig = cluster_.kubeconfigWithDocumentedRules("operator-rbac").string();
  auto a = controller("controller", {});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << a->output();
  for (const std::vector<std::string>& verb :
       std::vector<std::vector<std::string>>{{"apply", "-f", (dir_.path() / "rotation.yaml").string()},
                                             {"get"},
                                             {"get", "edge-proxy", "-o", "yaml"},
                                             {"status", "edge-proxy"},
                                             {"plan", "edge-proxy"},
                                             {"snapshots", "edge-proxy"},
                                             {"agents", "edge-proxy"},
                                             {"token", "edge-proxy"},
                                             {"pause", "edge-proxy"},
                                             {"resume", "edge-proxy"},
                                             {"rotate", "edge-proxy"}}) {
    auto [code, output] = rotorAs(operatorConfig, verb);
    EXPECT_EQ(code, 0) << "rotor " << verb.front() << ":\n" << output;
    EXPECT_THAT(output, ::testing::Not(HasSubstr("forbidden"))) << verb.front();
  }
  ASSERT_TRUE(eventually([&] { return revision() == 2 && phase() == "Ready"; }, std::chrono::seconds(90)))
      << a->output();
  auto [rolledBack, rollbackOutput] = rotorAs(operatorConfig, {"rollback", "edge-proxy"});
  EXPECT_EQ(rolledBack, 0) << rollbackOutput;
  ASSERT_TRUE(eventually([&] { return phase() == "RolledBack"; })) << a->output();
  // Only -A asks for more, and the refusal says what is missing.
  expectedRefusals_.push_back("list rotor.dev/certificaterotations");
  auto [everywhere, refusal] = rotorAs(operatorConfig, {"get", "-A"});
  EXPECT_EQ(everywhere, 1);
  EXPECT_THAT(refusal, HasSubstr("cannot list resource \"certificaterotations\""));
  EXPECT_THAT(refusal, HasSubstr("at the cluster scope"));
  auto [deleted, deleteOutput] = rotorAs(operatorConfig, {"delete", "edge-proxy"});
  EXPECT_EQ(deleted, 0) << deleteOutput;
  finished(*a);
}

TEST_F(KubeModeTest, TheBundleFollowsItsClientsIntoLabelledNamespacesAndLeavesForeignOnesAlone) {
  // Copies go to other namespaces, which the grant of one namespace the other tests use cannot
  // reach (docs/rbac.md: the copy rules are cluster-wide): the controller runs as admin here.
  controllerKubeconfig_ = kubeconfig_;
  const std::string team = ns();  // a label value of this test's own
  auto apps = cluster_.makeNamespace("apps", {{"rotor-test/trust", team}});
  auto legacy = cluster_.makeNamespace("legacy", {{"rotor-test/trust", team}});
  auto late = cluster_.makeNamespace("late");
  ASSERT_OK(apps);
  ASSERT_OK(legacy);
  ASSERT_OK(late);
  json pinned = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "edge-proxy-ca"}}},
                 {"data", {{"ca.crt", "pinned by hand"}}}};
  ASSERT_OK(client().create(kube::kConfigMaps, *legacy, pinned));
  const std::string spec =
      std::regex_replace(kRotation, std::regex("trustBundle: \\{configMapName: edge-proxy-ca\\}"),
                         "trustBundle: {configMapName: edge-proxy-ca, namespaceSelector: {matchLabels: "
                         "{rotor-test/trust: " +
                             team + "}}}");
  ASSERT_NE(spec, kRotation);
  ASSERT_EQ(rotor({"apply", "-f", dir_.write("copied.yaml", spec).string()}), 0);
  const auto copyIn = [&](const std::string& namespaceName) -> std::string {
    auto copy = client().get(kube::kConfigMaps, namespaceName, "edge-proxy-ca");
    return copy.ok() ? copy->value("/data/ca.crt"_json_pointer, std::string()) : "";
  };
  auto a = controller("controller", {});
  // The copy is written before the status that counts it: wait for both.
  const auto copiesCounted = [&] { return rotation().value("/status/bundleCopies"_json_pointer, json()); };
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && !copyIn(*apps).empty() && !copiesCounted().is_null(); }))
      << a->output();
  EXPECT_EQ(copyIn(*apps), bundle());
  EXPECT_EQ(copyIn(*legacy), "pinned by hand");
  const json copies = copiesCounted();
  EXPECT_EQ(copies["wanted"], 1);
  EXPECT_EQ(copies["current"], 1);
  EXPECT_EQ(copies["foreign"], json::array({*legacy}));

  // A namespace that starts matching gets its copy at once (the controller watches namespaces).
  ASSERT_OK(cluster_.labelNamespace(*late, {{"rotor-test/trust", team}}));
  ASSERT_TRUE(eventually([&] { return copyIn(*late) == bundle(); })) << a->output();

  // Through a rotation: every copy holds the bundle as it is after the prune, the new CA alone.
  ASSERT_EQ(rotor({"rotate", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && revision() == 2; }, std::chrono::seconds(90)))
      << a->output();
  EXPECT_EQ(copyIn(*apps), bundle());
  EXPECT_EQ(copyIn(*late), bundle());
  EXPECT_EQ(pki::parsePemBundle(bundle()).value().size(), 1u);
  EXPECT_EQ(copyIn(*legacy), "pinned by hand");

  // A namespace that stops matching loses the copy rotor made.
  ASSERT_OK(cluster_.labelNamespace(*apps, {{"rotor-test/trust", nullptr}}));
  ASSERT_TRUE(eventually([&] {
    return client().get(kube::kConfigMaps, *apps, "edge-proxy-ca").status().code() == Code::kNotFound;
  })) << a->output();
  EXPECT_EQ(copyIn(*legacy), "pinned by hand");

  // The rotation goes: so do its copies (owner references cannot reach them), not the foreign one.
  const auto copyGone = [&] {
    return client().get(kube::kConfigMaps, *late, "edge-proxy-ca").status().code() == Code::kNotFound;
  };
  ASSERT_EQ(rotor({"delete", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually(copyGone)) << a->output();
  EXPECT_EQ(copyIn(*legacy), "pinned by hand");

  // Deleted while no controller runs: no watch event tells the next one, its first resync does.
  ASSERT_EQ(rotor({"apply", "-f", dir_.write("copied.yaml", spec).string()}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && copyIn(*late) == bundle(); })) << a->output();
  a->signal(SIGTERM);
  ASSERT_EQ(a->wait(std::chrono::seconds(30)), 0) << a->output();
  finished(*a);
  ASSERT_EQ(rotor({"delete", "edge-proxy"}), 0);
  EXPECT_EQ(copyIn(*late), bundle()) << "no controller ran";
  auto b = controller("restarted", {});
  ASSERT_TRUE(eventually(copyGone)) << b->output();
  // Logged once the whole collection is done, a moment after the copy went.
  EXPECT_TRUE(eventually([&] { return b->output().find("Removed what deleted rotations left") != std::string::npos; }))
      << b->output();
  EXPECT_EQ(copyIn(*legacy), "pinned by hand");
  finished(*b);
}

TEST_F(KubeModeTest, AWaitingRotationWritesStatusOnlyWhenSomethingChanges) {
  // Every status write wakes every watcher: a rotation waiting out minStageDuration used to
  // rewrite its status about 30 times a second with a countdown in its message.
  ASSERT_EQ(rotor({"apply", "-f",
                   dir_.write("waiting.yaml",
                              std::regex_replace(kRotation, std::regex("minStageDuration: 1s"), "minStageDuration: 1h"))
                       .string()}),
            0);
  auto a = controller("controller", {});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << a->output();
  ASSERT_EQ(rotor({"rotate", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "AwaitingAdoption"; })) << a->output();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the transition's own writes settle
  const std::string before = rotation()["metadata"]["resourceVersion"];
  int writes = 0;
  std::string last = before;
  for (int i = 0; i < 100; ++i) {  // 10 s of waiting
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string now = rotation()["metadata"]["resourceVersion"];
    if (now != last) ++writes;
    last = now;
  }
  EXPECT_LE(writes, 1) << "status written " << writes << " times in 10 s of waiting";
  EXPECT_THAT(rotation()["status"]["message"].get<std::string>(), HasSubstr("until"));
  // Meanwhile people's writes go through the first time.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(rotor({"pause", "edge-proxy"}), 0);
    ASSERT_EQ(rotor({"resume", "edge-proxy"}), 0);
  }
  finished(*a);
}

/** A CA as cert-manager's self-signed CA Certificate writes it, made with the openssl CLI: an
 *  ECDSA key in SEC1 ("EC PRIVATE KEY", cert-manager's encoding for ECDSA), the certificate
 *  CA:TRUE with keyCertSign. `keyFile` is made unless it exists (rotationPolicy: Never keeps it). */
std::pair<std::string, std::string> certManagerCa(const TempDir& dir, const std::string& keyFile, int serial) {
  const std::string key = (dir.path() / keyFile).string(), cert = (dir.path() / (keyFile + ".crt")).string();
  std::string output;
  EXPECT_EQ(runShell("set -e; [ -f " + key + " ] || openssl ecparam -name prime256v1 -genkey -noout -out " + key +
                         "; openssl req -x509 -new -key " + key + " -subj /CN=edge-root -days 3650 -set_serial " +
                         std::to_string(serial) +
                         " -addext basicConstraints=critical,CA:TRUE"
                         " -addext keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign -out " +
                         cert + " 2>&1",
                     &output),
            0)
      << output;
  const auto contents = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  return {contents(cert), contents(key)};
}

/** The Secret cert-manager writes for Certificate edge-root (issuer: a self-signed Issuer). */
json certManagerSecret(const std::pair<std::string, std::string>& ca) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "kubernetes.io/tls"},
          {"metadata",
           {{"name", "edge-root"},
            {"labels", {{"controller.cert-manager.io/fao", "true"}}},
            {"annotations",
             {{"cert-manager.io/alt-names", ""},
              {"cert-manager.io/certificate-name", "edge-root"},
              {"cert-manager.io/common-name", "edge-root"},
              {"cert-manager.io/ip-sans", ""},
              {"cert-manager.io/issuer-group", "cert-manager.io"},
              {"cert-manager.io/issuer-kind", "Issuer"},
              {"cert-manager.io/issuer-name", "selfsigned"},
              {"cert-manager.io/uri-sans", ""}}}}},
          {"data",
           {{"tls.crt", pki::base64Encode(ca.first)},
            {"tls.key", pki::base64Encode(ca.second)},
            {"ca.crt", pki::base64Encode(ca.first)}}}};
}

TEST_F(KubeModeTest, ACaThatCertManagerManagesIsFollowedAndNeverWritten) {
  // cert-manager issues the CA; rotor follows what it writes, never writing the Secret itself.
  auto written = client().create(kube::kSecrets, ns(), certManagerSecret(certManagerCa(dir_, "root-1.key", 1)));
  ASSERT_OK(written);
  std::string ours = (*written)["metadata"]["resourceVersion"];
  std::string rotationYaml = kRotation;
  rotationYaml.replace(rotationYaml.find("    generate: {commonName: Edge Proxy CA}"),
                       std::string("    generate: {commonName: Edge Proxy CA}").size(),
                       "    secretRef: {name: edge-root, onChange: Rotate}");
  ASSERT_EQ(rotor({"apply", "-f", dir_.write("managed.yaml", rotationYaml).string()}), 0);
  auto a = controller("controller", {});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && revision() == 1; })) << a->output();
  const auto fingerprintOf = [](const std::string& pem) {
    return pki::parsePemBundle(pem).value().front().fingerprint().toString();
  };
  const auto servedChainsTo = [&](const std::string& root) {
    auto chain = pki::parsePemBundle(secretValue("edge-proxy-tls", "tls.crt"));
    auto roots = pki::parsePemBundle(root);
    return chain.ok() && roots.ok() &&
           pki::verifyChain(chain->front(), {chain->begin() + 1, chain->end()}, *roots, clock_.now()).ok();
  };
  const std::string first = secretValue("edge-root", "tls.crt");
  EXPECT_EQ(bundle(), first);
  EXPECT_TRUE(servedChainsTo(first));

  // cert-manager renews the CA with a new key (its default rotationPolicy: Always). rotor reads the
  // Secret at rest at least every minute (it has no watch on Secrets): each step waits for that.
  const auto write = [&](const std::pair<std::string, std::string>& ca) {
    json secret = client().get(kube::kSecrets, ns(), "edge-root").value();
    secret["data"] = certManagerSecret(ca)["data"];
    auto updated = client().update(kube::kSecrets, ns(), secret);
    ASSERT_OK(updated);
    ours = (*updated)["metadata"]["resourceVersion"];
  };
  write(certManagerCa(dir_, "root-2.key", 2));
  const std::string second = secretValue("edge-root", "tls.crt");
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && revision() == 2 && bundle() == second; },
                         std::chrono::seconds(240)))
      << a->output();
  EXPECT_TRUE(servedChainsTo(second));
  EXPECT_EQ(rotation()["status"]["caSecret"]["taken"], fingerprintOf(second));

  // cert-manager renews it with the same key (rotationPolicy: Never): a same-key CA renewal, no
  // adoption round; both certificates of the key stay trusted until the old one is pruned.
  write(certManagerCa(dir_, "root-2.key", 3));
  const std::string third = secretValue("edge-root", "tls.crt");
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && revision() == 3; }, std::chrono::seconds(240)))
      << a->output();
  EXPECT_EQ(rotation()["status"]["ca"]["current"]["fingerprint"], fingerprintOf(third));
  EXPECT_TRUE(servedChainsTo(third));
  const json events = json(client().list(kube::kEvents, ns()).value().items);
  EXPECT_THAT(events.dump(), HasSubstr("\"reason\":\"CASourceRenewed\""));

  // rotor never wrote the Secret: it is as the last of cert-manager's writes left it.
  EXPECT_EQ(client().get(kube::kSecrets, ns(), "edge-root").value()["metadata"]["resourceVersion"], ours);
  finished(*a);
}

}  // namespace
}  // namespace rotor::testing
