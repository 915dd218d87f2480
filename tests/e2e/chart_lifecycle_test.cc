// The Helm chart's lifecycle on a real API server, as a user runs it: install, upgrades with one
// and two replicas, a drain of the leader's node through the eviction API against the chart's
// PodDisruptionBudget, and uninstall; a dashboard namespace that does not exist refused before
// anything is created; every rendered object accepted by a server-side dry run with strict field
// validation; and the documented ways to own the CRD (kubectl or GitOps, adopted by the release,
// handed back). Needs a real server (ROTOR_TEST_KUBECONFIG): the fake has no controller-manager
// to make ReplicaSets and pods. PodRunner plays the node, with each pod's service account token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "controller/kube/leader_pod_label.h"
#include "controller/pki/base64.h"
#include "tests/support/eventually.h"
#include "tests/support/pod_runner.h"
#include "tests/support/service_proxy.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace rotor::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr kube::ResourceType kServiceAccounts{"", "v1", "serviceaccounts", "ServiceAccount"};
constexpr kube::ResourceType kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                   "CustomResourceDefinition", false};
constexpr char kCrdName[] = "certificaterotations.rotor.dev";

std::string helm() {
  const char* path = std::getenv("HELM");
  return path != nullptr && *path != '\0' ? path : "helm";
}

class ChartLifecycleTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (cluster_.fake())
      GTEST_SKIP() << "needs a real API server (ROTOR_TEST_KUBECONFIG): the fake runs no controller-manager";
    runner_ = std::make_unique<PodRunner>(
        client(), PodRunnerOptions{ns(), "app.kubernetes.io/instance=rotor",
                                   [this](const json& pod) { return serviceAccountKubeconfig(pod); },
                                   dir_.path() / "pods", "rotor-test-node"});
    // What the chart's test pod reaches through the Service's variables, as the kubelet sets them.
    metrics_ = std::make_unique<ServiceProxy>(client(), ns(), "rotor", "metrics", *runner_, true);
    runner_->addServiceEnv("ROTOR_SERVICE_HOST", "127.0.0.1");
    runner_->addServiceEnv("ROTOR_SERVICE_PORT_METRICS", std::to_string(metrics_->port()));
  }

  kube::Client& client() { return cluster_.client(); }
  const std::string& ns() { return cluster_.ns(); }

  /** Runs `command` with the admin's kubeconfig: its exit status; its output in `output`. */
  int shell(const std::string& command, std::string* output = nullptr) {
    std::string out;
    const int code =
        runShell("export KUBECONFIG=" + cluster_.adminKubeconfig().string() + "; " + command + " 2>&1", &out);
    transcript_ += "$ " + command + "\n" + out;
    if (output != nullptr) *output = out;
    return code;
  }
  /** helm in the test's namespace, waiting for what it changed to be ready. */
  int helmRun(const std::string& args, std::string* output = nullptr) {
    return shell(helm() + " " + args + " --namespace " + ns(), output);
  }
  std::string chart() const { return (sourceDir() / "charts/rotor").string(); }

  /** A kubeconfig with the pod's service account's token, as a projected token would give it. */
  std::string serviceAccountKubeconfig(const json& pod) {
    const std::string account = pod.value("/spec/serviceAccountName"_json_pointer, std::string("default"));
    auto token = client().createSubresource(kServiceAccounts, ns(), account, "token",
                                            {{"apiVersion", "authentication.k8s.io/v1"},
                                             {"kind", "TokenRequest"},
                                             {"spec", {{"expirationSeconds", 3600}}}});
    if (!token.ok()) {
      ADD_FAILURE() << "token for " << account << ": " << token.status();
      return "";
    }
    const kube::ClusterConfig& admin = cluster_.config();
    const std::string text =
        "apiVersion: v1\nkind: Config\ncurrent-context: pod\nclusters:\n- name: c\n  cluster:\n"
        "    server: " +
        admin.server + "\n    certificate-authority-data: " + pki::base64Encode(admin.caPem) +
        "\ncontexts:\n- name: pod\n  context:\n    cluster: c\n    user: sa\n    namespace: " + ns() +
        "\nusers:\n- name: sa\n  user:\n    token: " + (*token)["status"]["token"].get<std::string>() + "\n";
    return dir_.write("sa-" + account + ".kubeconfig", text).string();
  }

  std::vector<json> pods() {
    auto listed =
        client().list(kube::kPods, ns(),
                      {.labelSelector = "app.kubernetes.io/instance=rotor,app.kubernetes.io/component=controller"});
    return listed.ok() ? listed->items : std::vector<json>{};
  }
  /** Pods not being deleted, and of those the ready ones and the one labelled leader. */
  struct Pods {
    std::vector<std::string> live, ready, leaders;
  };
  Pods podState() {
    Pods out;
    for (const json& pod : pods()) {
      if (pod["metadata"].contains("deletionTimestamp")) continue;
      const std::string name = pod["metadata"]["name"];
      out.live.push_back(name);
      if (podReady(pod)) out.ready.push_back(name);
      if (pod.value("/metadata/labels"_json_pointer, json::object()).value(std::string(kube::kLeaderLabel), "") ==
          "true") {
        out.leaders.push_back(name);
      }
    }
    return out;
  }
  /** `replicas` pods ready, one labelled leader, and the Service routing to it alone. */
  bool settled(size_t replicas) {
    ServiceProxy service(client(), ns(), "rotor", "metrics", *runner_, true);
    return eventually(
        [&] {
          const Pods p = podState();
          const std::vector<Endpoint> endpoints = service.endpoints();
          return p.live.size() == replicas && p.ready.size() == replicas && p.leaders.size() == 1 &&
                 endpoints.size() == 1 &&
                 runner_->localPort(endpoints.front().ip, endpoints.front().port) ==
                     runner_->localPortOf(p.leaders.front(), "metrics");
        },
        90s);
  }
  /** An eviction as `kubectl drain` asks for it: a refusal (429) is answered, not waited out. */
  StatusOr<json> evict(const std::string& pod) {
    auto transport = kube::makeHttpsTransport(cluster_.config());
    if (!transport.ok()) return transport.status();
    kube::Client once(**transport, {.throttledRetries = 0});
    return once.createSubresource(
        kube::kPods, ns(), pod, "eviction",
        {{"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", pod}, {"namespace", ns()}}}});
  }
  void lifecycle(const std::string& values, bool budget);

  std::string logs() {
    std::string out = transcript_;
    for (const json& pod : pods())
      out += "--- " + pod["metadata"]["name"].get<std::string>() + "\n" + runner_->output(pod["metadata"]["name"]);
    return out;
  }

  TestCluster cluster_;
  TempDir dir_;
  std::unique_ptr<PodRunner> runner_;
  std::unique_ptr<ServiceProxy> metrics_;
  std::string transcript_;
};

/** Install, upgrades with one and two replicas, a drain of the leader, uninstall: with `values`
 *  (the CRD applied apart, as the fixture did: crds.enabled=false). With a PodDisruptionBudget, a
 *  drain evicts one pod at a time. */
void ChartLifecycleTest::lifecycle(const std::string& values, bool budget) {
  std::string output;
  ASSERT_EQ(
      helmRun("install rotor " + chart() + " --set crds.enabled=false" + values + " --wait --timeout 2m", &output), 0)
      << logs();
  EXPECT_THAT(output, Not(HasSubstr("unknown field")));
  ASSERT_TRUE(settled(1)) << logs();
  const std::string firstPod = podState().live.front();
  // helm test: its pod checks the CRD, the leader's readiness and metrics through the Service.
  ASSERT_EQ(helmRun("test rotor --timeout 2m", &output), 0) << logs() << runner_->output("rotor-check");
  EXPECT_THAT(output, HasSubstr("Phase:          Succeeded"));
  EXPECT_THAT(runner_->output("rotor-check"), HasSubstr("ok    metrics answer"));
  EXPECT_THAT(runner_->output("rotor-check"), Not(HasSubstr("FAIL")));

  // One replica: the new pod is ready (synced) before the old one goes, and takes over the Lease.
  ASSERT_EQ(
      helmRun("upgrade rotor " + chart() + " --reuse-values --set logging.level=debug --wait --timeout 2m", &output), 0)
      << logs();
  ASSERT_TRUE(settled(1)) << logs();
  EXPECT_NE(podState().leaders.front(), firstPod);

  // Two replicas, then a change rolled over both.
  ASSERT_EQ(helmRun("upgrade rotor " + chart() + " --reuse-values --set replicaCount=2 --wait --timeout 2m", &output),
            0)
      << logs();
  ASSERT_TRUE(settled(2)) << logs();
  ASSERT_EQ(
      helmRun("upgrade rotor " + chart() + " --reuse-values --set logging.format=text --wait --timeout 2m", &output), 0)
      << logs();
  ASSERT_TRUE(settled(2)) << logs();

  // A drain evicts the leader: allowed (both ready); with the budget (maxUnavailable 1) the
  // follower right after it is refused until the replacement is ready; then it goes too.
  const Pods before = podState();
  const std::string leader = before.leaders.front();
  const std::string follower = before.live.front() == leader ? before.live.back() : before.live.front();
  ASSERT_OK(evict(leader)) << logs();
  if (budget) {
    auto refused = evict(follower);
    EXPECT_FALSE(refused.ok());
    EXPECT_THAT(refused.status().message(), HasSubstr("disruption budget")) << refused.status();
    ASSERT_TRUE(settled(2)) << logs();
    EXPECT_THAT(podState().live, Not(::testing::Contains(leader)));
  }
  ASSERT_TRUE(eventually([&] { return evict(follower).ok(); })) << logs();
  ASSERT_TRUE(settled(2)) << logs();
  EXPECT_THAT(podState().live, Not(::testing::Contains(follower)));

  // Uninstall: nothing of the release stays but the CRD, which it never owned.
  ASSERT_EQ(helmRun("uninstall rotor --wait --timeout 2m", &output), 0) << logs();
  EXPECT_TRUE(eventually([&] { return pods().empty() && runner_->pods().empty(); })) << logs();
  EXPECT_THAT(client().get(kube::kDeployments, ns(), "rotor"), StatusIs(Code::kNotFound));
  EXPECT_OK(client().list(kube::kRotations, ns()));
}

TEST_F(ChartLifecycleTest, LifecycleWithTheDefaults) { lifecycle("", false); }

TEST_F(ChartLifecycleTest, LifecycleWithTheMainToggles) {
  lifecycle(",watchNamespace=" + ns() +
                ",podDisruptionBudget.enabled=true,adoption.enabled=true,adoption.insecure=true,"
                "metrics.dashboard.enabled=true",
            true);
}

TEST_F(ChartLifecycleTest, ADashboardNamespaceThatDoesNotExistIsRefusedBeforeAnythingIsCreated) {
  std::string output;
  EXPECT_NE(
      helmRun("install rotor " + chart() +
                  " --set crds.enabled=false,metrics.dashboard.enabled=true,metrics.dashboard.namespace=no-such-ns-" +
                  ns(),
              &output),
      0);
  EXPECT_THAT(output, HasSubstr("does not exist"));
  std::string releases;
  ASSERT_EQ(helmRun("list --all --short", &releases), 0);
  EXPECT_THAT(releases, Not(HasSubstr("rotor"))) << "a failed release was left behind";
  EXPECT_THAT(client().get(kube::kDeployments, ns(), "rotor"), StatusIs(Code::kNotFound));
  // The release's own namespace, named explicitly, is fine.
  EXPECT_EQ(helmRun("template rotor " + chart() +
                        " --validate --set crds.enabled=false,metrics.dashboard.enabled=true,"
                        "metrics.dashboard.namespace=" +
                        ns(),
                    &output),
            0)
      << output;
}

TEST_F(ChartLifecycleTest, EveryRenderedObjectPassesAStrictServerSideDryRunAt125) {
  // Every toggle, less the Prometheus Operator's kinds (their CRDs are not on this server).
  const std::string toggles =
      "--set crds.enabled=false,replicaCount=3,metrics.dashboard.enabled=true,"
      "podDisruptionBudget.enabled=true,adoption.enabled=true,adoption.tlsSecretName=api-tls,"
      "adoption.clientCaSecretName=agents-ca";
  std::string version;
  ASSERT_EQ(shell("kubectl version -o json", &version), 0) << version;
  const std::string rendered = (dir_.path() / "rendered.yaml").string();
  std::string output;
  ASSERT_EQ(shell(helm() + " template rotor " + chart() + " --namespace " + ns() + " --kube-version 1.25.10 " +
                  toggles + " > " + rendered),
            0)
      << transcript_;
  ASSERT_EQ(shell("kubectl apply --dry-run=server --validate=strict -n " + ns() + " -f " + rendered, &output), 0)
      << output;
  EXPECT_THAT(output, Not(HasSubstr("unknown field")));
  EXPECT_THAT(output, Not(HasSubstr("Warning")));
}

TEST_F(ChartLifecycleTest, TheCrdCanBeAdoptedByARelease_KeptOnUninstall_AndHandedBack) {
  // Applied by kubectl (the fixture): a release with crds.enabled=true cannot take it as it is...
  std::string output;
  EXPECT_NE(helmRun("install rotor " + chart() + " --set watchNamespace=" + ns(), &output), 0);
  EXPECT_THAT(output, HasSubstr("invalid ownership metadata"));
  shell(helm() + " uninstall rotor --namespace " + ns());  // a failed install may leave a release
  // ...until it is marked as the release's (docs/install.md, "The CRD").
  ASSERT_EQ(shell("kubectl label crd " + std::string(kCrdName) +
                  " app.kubernetes.io/managed-by=Helm --overwrite && "
                  "kubectl annotate crd " +
                  std::string(kCrdName) +
                  " meta.helm.sh/release-name=rotor "
                  "meta.helm.sh/release-namespace=" +
                  ns() + " --overwrite"),
            0)
      << transcript_;
  EXPECT_EQ(helmRun("install rotor " + chart() + " --set watchNamespace=" + ns() + " --wait --timeout 2m", &output), 0)
      << logs();
  EXPECT_TRUE(settled(1)) << logs();
  // The release now upgrades it in place with the chart: drift (the printer columns removed) is undone.
  json version = client().get(kCrds, "", kCrdName).value()["spec"]["versions"][0];
  version["additionalPrinterColumns"] = json::array();
  ASSERT_OK(
      client().patch(kCrds, "", kCrdName, kube::PatchType::kMerge, {{"spec", {{"versions", json::array({version})}}}}));
  ASSERT_TRUE(client().get(kCrds, "", kCrdName).value()["spec"]["versions"][0]["additionalPrinterColumns"].empty());
  ASSERT_EQ(helmRun("upgrade rotor " + chart() + " --reuse-values --wait --timeout 2m", &output), 0) << logs();
  EXPECT_FALSE(client().get(kCrds, "", kCrdName).value()["spec"]["versions"][0]["additionalPrinterColumns"].empty())
      << "helm upgrade did not put the chart's CRD back";
  // Uninstalling keeps it (crds.keep) and every rotation with it.
  ASSERT_EQ(helmRun("uninstall rotor --wait --timeout 2m", &output), 0) << output;
  auto crd = client().get(kCrds, "", kCrdName);
  ASSERT_OK(crd);
  EXPECT_FALSE((*crd)["metadata"].contains("deletionTimestamp"));
  // Handed back to kubectl or GitOps: without the release's marks, another release can adopt it.
  EXPECT_EQ(shell("kubectl annotate crd " + std::string(kCrdName) +
                  " meta.helm.sh/release-name- meta.helm.sh/release-namespace- helm.sh/resource-policy- && "
                  "kubectl label crd " +
                  std::string(kCrdName) + " app.kubernetes.io/managed-by-"),
            0)
      << transcript_;
}

}  // namespace
}  // namespace rotor::testing
