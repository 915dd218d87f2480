// The Helm chart: lint and template with every toggle, the CRD a byte-identical copy of crds/,
// the rendered RBAC exactly the rules docs/rbac.md lists, and the rendered objects in the shapes
// Kubernetes and rotor need. helm is found through $HELM (ctest sets it; .ci/install-helm).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "controller/api/yaml_codec.h"
#include "controller/common/strings.h"
#include "tests/support/temp_dir.h"

namespace rotor::testing {
namespace {

using ::testing::IsEmpty;

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string helm() {
  const char* path = std::getenv("HELM");
  return path != nullptr && *path != '\0' ? path : "helm";
}

std::string chart() { return (sourceDir() / "charts/rotor").string(); }

/** Every toggle on, and the settings that go with them. */
const std::string kEverything =
    "--set replicaCount=3,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,"
    "metrics.dashboard.enabled=true,podDisruptionBudget.enabled=true,adoption.enabled=true,"
    "adoption.tlsSecretName=rotor-api-tls,adoption.clientCaSecretName=agents-ca,crds.keep=false";

/** `helm template` with `flags`: its documents, or a test failure. */
std::vector<YAML::Node> render(const std::string& flags) {
  std::string output;
  const int code =
      runShell(helm() + " template rel " + chart() + " --namespace rotor-system " + flags + " 2>&1", &output);
  EXPECT_EQ(code, 0) << output;
  std::vector<YAML::Node> docs;
  for (const YAML::Node& doc : YAML::LoadAll(output)) {
    if (doc && doc.IsMap()) docs.push_back(doc);
  }
  return docs;
}

std::vector<YAML::Node> ofKind(const std::vector<YAML::Node>& docs, const std::string& kind) {
  std::vector<YAML::Node> out;
  for (const YAML::Node& d : docs) {
    if (d["kind"].as<std::string>() == kind) out.push_back(d);
  }
  return out;
}

/** A YAML node as JSON: equal when the content is, whatever the key order or style. */
nlohmann::json asJson(const YAML::Node& node) {
  auto docs = api::yamlToJsonDocuments(YAML::Dump(node));
  EXPECT_TRUE(docs.ok() && docs->size() == 1);
  return docs.ok() && !docs->empty() ? docs->front() : nlohmann::json();
}

using Rule = std::tuple<std::string, std::string, std::string>;  // group, resource, verb

/** The controller table of docs/rbac.md, one (group, resource, verb) per verb. */
/** The rules of one table of docs/rbac.md (between "<table>:begin" and "<table>:end"). */
std::set<Rule> documentedRules(const std::string& table = "controller-rbac") {
  std::istringstream in(readFile(sourceDir() / "docs/rbac.md"));
  std::set<Rule> out;
  bool inTable = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find(table + ":begin") != std::string::npos) inTable = true;
    if (line.find(table + ":end") != std::string::npos) break;
    if (!inTable || !line.starts_with("| ") || line.starts_with("| API group") || line.starts_with("| ---")) continue;
    std::vector<std::string> cells;
    for (const std::string& c : split(line, '|')) cells.emplace_back(trim(c));
    for (const std::string& verb : split(cells.at(3), ',')) {
      out.emplace(cells.at(1) == "(core)" ? "" : cells.at(1), cells.at(2), std::string(trim(verb)));
    }
  }
  return out;
}

std::set<Rule> renderedRules(const std::vector<YAML::Node>& docs) {
  std::set<Rule> out;
  for (const char* kind : {"ClusterRole", "Role"}) {
    for (const YAML::Node& role : ofKind(docs, kind)) {
      for (const YAML::Node& rule : role["rules"]) {
        for (const YAML::Node& group : rule["apiGroups"]) {
          for (const YAML::Node& resource : rule["resources"]) {
            for (const YAML::Node& verb : rule["verbs"]) {
              out.emplace(group.as<std::string>(), resource.as<std::string>(), verb.as<std::string>());
            }
          }
        }
      }
    }
  }
  return out;
}

TEST(ChartTest, LintsStrictlyWithDefaultsAndWithEveryToggle) {
  for (const std::string& flags :
       {std::string(), kEverything, std::string("--set watchNamespace=edge,rbac.restartWorkloads=false")}) {
    std::string output;
    EXPECT_EQ(runShell(helm() + " lint --strict " + chart() + " " + flags + " 2>&1", &output), 0) << flags << "\n"
                                                                                                  << output;
  }
}

TEST(ChartTest, RefusesValuesItCannotUse) {
  for (const char* bad : {"--set logging.level=loud", "--set replicaCount=0", "--set unknownValue=1",
                          "--set adoption.enabled=true", "--set leaderElection.leaseDuration=soon"}) {
    std::string output;
    EXPECT_NE(runShell(helm() + " template rel " + chart() + " " + bad + " 2>&1", &output), 0) << bad;
  }
}

TEST(ChartTest, ItsCrdIsByteForByteTheOneInCrds) {
  EXPECT_EQ(readFile(sourceDir() / "charts/rotor/files/crds/certificaterotations.rotor.dev.yaml"),
            readFile(sourceDir() / "crds/certificaterotations.rotor.dev.yaml"));
  const YAML::Node shipped = YAML::LoadFile((sourceDir() / "crds/certificaterotations.rotor.dev.yaml").string());
  const std::vector<YAML::Node> kept = ofKind(render(""), "CustomResourceDefinition");
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0]["metadata"]["annotations"]["helm.sh/resource-policy"].as<std::string>(), "keep");
  EXPECT_TRUE(asJson(kept[0]["spec"]) == asJson(shipped["spec"])) << "the rendered CRD's spec differs from crds/";
  EXPECT_FALSE(
      ofKind(render(kEverything), "CustomResourceDefinition")[0]["metadata"]["annotations"]["helm.sh/resource-policy"]);
  EXPECT_THAT(ofKind(render("--set crds.enabled=false"), "CustomResourceDefinition"), IsEmpty());
}

TEST(ChartTest, RbacIsExactlyTheDocumentedControllerRules) {
  const std::set<Rule> documented = documentedRules();
  ASSERT_GE(documented.size(), 10u);
  EXPECT_EQ(renderedRules(render("")), documented);
  EXPECT_EQ(renderedRules(render(kEverything)), documented);
  // Scoped to one namespace: Roles, the same rules; only the bundle copies' and consumer pods'
  // rules stay cluster-wide.
  const std::vector<YAML::Node> scoped = render("--set watchNamespace=edge");
  const std::vector<YAML::Node> clusterWide = ofKind(scoped, "ClusterRole");
  ASSERT_EQ(clusterWide.size(), 1u);
  EXPECT_EQ(renderedRules({clusterWide[0]}), (std::set<Rule>{{"", "configmaps", "get"},
                                                             {"", "configmaps", "list"},
                                                             {"", "configmaps", "create"},
                                                             {"", "configmaps", "update"},
                                                             {"", "configmaps", "delete"},
                                                             {"", "namespaces", "list"},
                                                             {"", "namespaces", "watch"},
                                                             {"", "pods", "list"},
                                                             {"", "pods", "watch"},
                                                             {"apps", "deployments", "get"},
                                                             {"apps", "deployments", "patch"},
                                                             {"apps", "statefulsets", "get"},
                                                             {"apps", "statefulsets", "patch"},
                                                             {"apps", "daemonsets", "get"},
                                                             {"apps", "daemonsets", "patch"}}));
  EXPECT_EQ(renderedRules(scoped), documented);
  // Without bundle copies and consumer pods, nothing cluster-wide, and none of their rules.
  const std::vector<YAML::Node> noCopies =
      render("--set watchNamespace=edge,rbac.bundleCopies=false,rbac.consumerPods=false");
  EXPECT_THAT(ofKind(noCopies, "ClusterRole"), IsEmpty());
  EXPECT_FALSE(renderedRules(noCopies).contains({"", "namespaces", "list"}));
  EXPECT_FALSE(renderedRules(noCopies).contains({"", "pods", "watch"}));
  EXPECT_FALSE(renderedRules(render("--set rbac.consumerPods=false")).contains({"", "pods", "list"}));
  EXPECT_FALSE(renderedRules(render("--set rbac.bundleCopies=false")).contains({"", "configmaps", "delete"}));
  // Bundles in Secrets (opt-in): the documented extra rules, and no more; scoped, cluster-wide.
  const std::set<Rule> secretRules = documentedRules("bundle-secrets-rbac");
  ASSERT_FALSE(secretRules.empty());
  std::set<Rule> withSecrets = documented;
  withSecrets.insert(secretRules.begin(), secretRules.end());
  EXPECT_EQ(renderedRules(render("--set rbac.bundleSecrets=true")), withSecrets);
  const std::vector<YAML::Node> scopedSecrets = render("--set watchNamespace=edge,rbac.bundleSecrets=true");
  EXPECT_EQ(renderedRules(scopedSecrets), withSecrets);
  for (const Rule& rule : secretRules) EXPECT_TRUE(renderedRules(ofKind(scopedSecrets, "ClusterRole")).contains(rule));
  // ClusterTrustBundles (opt-in): the documented rules, cluster-wide even when scoped; attest on
  // exactly the signers named, and only when some are.
  const std::set<Rule> trustBundleRules = documentedRules("cluster-trust-bundles-rbac");
  ASSERT_EQ(trustBundleRules.size(), 6u);
  std::set<Rule> withTrustBundles = documented;
  withTrustBundles.insert(trustBundleRules.begin(), trustBundleRules.end());
  const std::string signers = "--set rbac.clusterTrustBundles=true,rbac.clusterTrustBundleSigners={example.com/edge}";
  EXPECT_EQ(renderedRules(render(signers)), withTrustBundles);
  const std::vector<YAML::Node> scopedTrustBundles = render(signers + ",watchNamespace=edge");
  EXPECT_EQ(renderedRules(scopedTrustBundles), withTrustBundles);
  for (const Rule& rule : trustBundleRules) {
    EXPECT_TRUE(renderedRules(ofKind(scopedTrustBundles, "ClusterRole")).contains(rule));
  }
  bool named = false;
  for (const YAML::Node& role : ofKind(scopedTrustBundles, "ClusterRole")) {
    for (const YAML::Node& rule : role["rules"]) {
      if (rule["resources"][0].as<std::string>() != "signers") continue;
      ASSERT_TRUE(rule["resourceNames"].IsSequence());
      EXPECT_EQ(rule["resourceNames"].size(), 1u);
      EXPECT_EQ(rule["resourceNames"][0].as<std::string>(), "example.com/edge");
      named = true;
    }
  }
  EXPECT_TRUE(named) << "attest is granted on the signer by name";
  EXPECT_FALSE(renderedRules(render("--set rbac.clusterTrustBundles=true"))
                   .contains({"certificates.k8s.io", "signers", "attest"}))
      << "no signer named: no attest at all";
  EXPECT_FALSE(renderedRules(render("")).contains({"certificates.k8s.io", "clustertrustbundles", "get"}));
  // Without workload restarts, no patch on workloads at all.
  for (const Rule& r : renderedRules(render("--set rbac.restartWorkloads=false"))) EXPECT_NE(std::get<0>(r), "apps");
}

TEST(ChartTest, TheDeploymentRunsLockedDownAndElectsALeaderWhenReplicated) {
  for (const std::string& flags : {std::string(), kEverything}) {
    const std::vector<YAML::Node> docs = render(flags);
    const std::vector<YAML::Node> deployments = ofKind(docs, "Deployment");
    ASSERT_EQ(deployments.size(), 1u);
    const YAML::Node pod = deployments[0]["spec"]["template"];
    for (const auto& kv : deployments[0]["spec"]["selector"]["matchLabels"]) {
      EXPECT_EQ(pod["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
    }
    EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
    EXPECT_EQ(pod["spec"]["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
    const YAML::Node container = pod["spec"]["containers"][0];
    EXPECT_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>());
    EXPECT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    EXPECT_EQ(container["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
    EXPECT_EQ(container["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
    std::vector<std::string> args;
    for (const YAML::Node& a : container["args"]) args.push_back(a.as<std::string>());
    EXPECT_THAT(args, ::testing::Contains("--leader-elect"));
    EXPECT_THAT(args, ::testing::Contains("--in-cluster"));
    // The leader labels its own pod, named through the downward API, and the Service selects it.
    EXPECT_THAT(args, ::testing::Contains("--leader-label-pod=$(POD_NAMESPACE)/$(POD_NAME)"));
    std::map<std::string, std::string> env;
    for (const YAML::Node& e : container["env"])
      env[e["name"].as<std::string>()] = e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>("");
    EXPECT_EQ(env["POD_NAME"], "metadata.name");
    EXPECT_EQ(env["POD_NAMESPACE"], "metadata.namespace");
    // A new pod is ready (it has synced) before an old one goes: no rollout waits on a follower.
    EXPECT_EQ(deployments[0]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as<int>(), 0);
    // Both Services reach these pods on ports they expose; the first only the leader's.
    const std::vector<YAML::Node> services = ofKind(docs, "Service");
    ASSERT_EQ(services.size(), 2u);
    for (const YAML::Node& service : services) {
      const bool leaderOnly = service["spec"]["selector"]["rotor.dev/leader"].IsDefined();
      EXPECT_EQ(leaderOnly, &service == &services[0]) << service["metadata"]["name"];
      for (const auto& kv : service["spec"]["selector"]) {
        if (kv.first.as<std::string>() == "rotor.dev/leader") continue;
        EXPECT_EQ(pod["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
      }
      std::set<std::string> exposed;
      for (const YAML::Node& p : container["ports"]) exposed.insert(p["name"].as<std::string>());
      for (const YAML::Node& p : service["spec"]["ports"])
        EXPECT_TRUE(exposed.contains(p["targetPort"].as<std::string>()));
    }
  }
  // One replica without the leader election flag runs alone; more always elect.
  const YAML::Node single = ofKind(render("--set leaderElection.enabled=false"), "Deployment")[0];
  EXPECT_EQ(YAML::Dump(single).find("--leader-elect"), std::string::npos);
  const YAML::Node many = ofKind(render("--set leaderElection.enabled=false,replicaCount=2"), "Deployment")[0];
  EXPECT_NE(YAML::Dump(many).find("--leader-elect"), std::string::npos);
}

TEST(ChartTest, RendersOnlyFieldsTheTargetKubernetesVersionKnows) {
  // unhealthyPodEvictionPolicy is GA in 1.27; 1.25 and 1.26 drop it with an "unknown field" warning.
  for (const auto& [version, known] : std::vector<std::pair<std::string, bool>>{
           {"1.25.0", false}, {"1.26.5", false}, {"1.27.0", true}, {"1.31.2", true}}) {
    const std::vector<YAML::Node> pdbs =
        ofKind(render("--kube-version " + version + " --set podDisruptionBudget.enabled=true"), "PodDisruptionBudget");
    ASSERT_EQ(pdbs.size(), 1u);
    EXPECT_EQ(pdbs[0]["spec"]["unhealthyPodEvictionPolicy"].IsDefined(), known) << version;
  }
  std::string output;
  EXPECT_NE(runShell(helm() + " template rel " + chart() + " --kube-version 1.24.0 2>&1", &output), 0)
      << "Chart.yaml's kubeVersion should refuse 1.24";
}

TEST(ChartTest, MonitoringObjectsCarryTheShippedRulesAndDashboard) {
  const std::vector<YAML::Node> docs = render(kEverything);
  const YAML::Node rules = YAML::LoadFile((sourceDir() / "charts/rotor/prometheus/rotor-rules.yaml").string());
  EXPECT_TRUE(asJson(ofKind(docs, "PrometheusRule").at(0)["spec"]["groups"]) == asJson(rules["groups"]))
      << "the PrometheusRule's groups differ from prometheus/rotor-rules.yaml";
  const YAML::Node dashboard = ofKind(docs, "ConfigMap").at(0);
  EXPECT_EQ(dashboard["metadata"]["labels"]["grafana_dashboard"].as<std::string>(), "1");
  EXPECT_TRUE(dashboard["data"]["rotor.json"].as<std::string>() ==
              readFile(sourceDir() / "charts/rotor/dashboards/rotor.json"))
      << "the dashboard ConfigMap differs from dashboards/rotor.json";
  const YAML::Node monitor = ofKind(docs, "ServiceMonitor").at(0);
  EXPECT_EQ(monitor["spec"]["endpoints"][0]["port"].as<std::string>(), "metrics");
  // It scrapes every replica through the metrics Service, and only that one.
  size_t scraped = 0;
  for (const YAML::Node& service : ofKind(docs, "Service")) {
    bool selected = true;
    for (const auto& kv : monitor["spec"]["selector"]["matchLabels"]) {
      selected = selected && service["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>("") ==
                                 kv.second.as<std::string>();
    }
    if (!selected) continue;
    ++scraped;
    EXPECT_FALSE(service["spec"]["selector"]["rotor.dev/leader"].IsDefined());
  }
  EXPECT_EQ(scraped, 1u);
  EXPECT_EQ(ofKind(docs, "PodDisruptionBudget").size(), 1u);
}

TEST(ChartTest, EveryValueIsDocumented) {
  // Each key has a comment line right above it, except the entries of the free-form resource
  // maps (requests, limits), whose own keys are documented.
  std::istringstream in(readFile(sourceDir() / "charts/rotor/values.yaml"));
  std::vector<std::string> undocumented;
  std::string previous, parent;
  for (std::string line; std::getline(in, line);) {
    const std::string t(trim(line));
    if (t.empty()) continue;
    if (line.find_first_not_of(' ') <= 2) parent.clear();
    if (!t.starts_with("#") && !t.starts_with("-") && t.find(':') != std::string::npos) {
      const std::string key = t.substr(0, t.find(':'));
      const bool freeForm = parent == "requests" || parent == "limits";
      if (!previous.starts_with("#") && !freeForm) undocumented.push_back(key);
      if (trim(t.substr(t.find(':') + 1)).empty()) parent = key;
    }
    previous = t;
  }
  EXPECT_THAT(undocumented, IsEmpty());
}

}  // namespace
}  // namespace rotor::testing
