#include "tests/support/test_cluster.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

namespace rotor::testing {
namespace {

std::string uniqueNamespace() {
  static std::mt19937 random{std::random_device{}()};
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += kAlphabet[random() % (sizeof kAlphabet - 1)];
  return "rotor-contract-" + suffix;
}

/** Applies rotor's CRD as shipped (created, or the server's copy replaced by it, so that a real
 *  server never tests an older schema), and waits until the server serves it. */
void ensureCrd(kube::Client& client, const std::string& ns) {
  const nlohmann::json shipped = shippedRotationCrd();
  auto created = client.create(kCustomResourceDefinitions, "", shipped);
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    auto existing = client.get(kCustomResourceDefinitions, "", shipped["metadata"]["name"].get<std::string>());
    ASSERT_TRUE(existing.ok()) << existing.status();
    const nlohmann::json before = (*existing)["metadata"]["resourceVersion"];
    (*existing)["spec"] = shipped["spec"];
    (*existing)["metadata"]["labels"] = shipped["metadata"]["labels"];
    created = client.update(kCustomResourceDefinitions, "", *existing);
    // A changed schema takes effect a moment after the write (the API server rebuilds the
    // resource's handler asynchronously): before that, writes are still checked by the old one.
    if (created.ok() && (*created)["metadata"]["resourceVersion"] != before) {
      std::this_thread::sleep_for(std::chrono::seconds(3));
    }
  }
  ASSERT_TRUE(created.ok()) << "the API server refused rotor's CRD: " << created.status();
  for (int i = 0; i < 100; ++i) {
    if (client.list(kube::kRotations, ns).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "the API server does not serve certificaterotations.rotor.dev";
}

}  // namespace

constexpr kube::ResourceType kRoles{"rbac.authorization.k8s.io", "v1", "roles", "Role", true};
constexpr kube::ResourceType kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true};
constexpr kube::ResourceType kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false};
constexpr kube::ResourceType kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                                  "ClusterRoleBinding", false};

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

TestCluster::TestCluster() : ns_(uniqueNamespace()) {
  if (const std::string path = environment("ROTOR_TEST_KUBECONFIG"); !path.empty()) {
    auto loaded = kube::loadKubeconfig(path);
    if (!loaded.ok()) throw std::runtime_error("ROTOR_TEST_KUBECONFIG: " + loaded.status().message());
    config_ = *loaded;
    adminKubeconfig_ = path;
  } else {
    fake_ = std::make_unique<FakeCluster>();
    config_ = fake_->config();
    adminKubeconfig_ = fake_->writeKubeconfig();
  }
  auto transport = kube::makeHttpsTransport(config_);
  if (!transport.ok()) throw std::runtime_error("cluster under test: " + transport.status().message());
  transport_ = std::move(transport).value();
  client_ = std::make_unique<kube::Client>(*transport_);
  auto created = client_->create(kube::kNamespaces, "",
                                 {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
  if (!created.ok()) throw std::runtime_error("cannot create namespace " + ns_ + ": " + created.status().message());
  ensureCrd(*client_, ns_);
}

std::filesystem::path TestCluster::adminKubeconfig() const { return adminKubeconfig_; }

std::filesystem::path TestCluster::kubeconfigWithDocumentedRules(const std::string& table) {
  const std::vector<DocumentedRule> rules = documentedRules(table);
  if (rules.empty()) throw std::runtime_error("docs/rbac.md has no table " + table);
  if (fake_) {
    const std::string user = "rotor-" + table;
    fake_->api().addUser(user + "-token", user);
    grantDocumentedRules(fake_->api(), user, table, ns_);
    return fake_->writeKubeconfig(user + "-token");
  }
  // The users ../shared/tools/real-cluster/up makes, without rights of their own.
  const bool controller = table == "controller-rbac";
  const char* variable = controller ? "ROTOR_TEST_CONTROLLER_KUBECONFIG" : "ROTOR_TEST_OPERATOR_KUBECONFIG";
  const std::string userName = controller ? "rotor-controller" : "rotor-viewer";
  const std::filesystem::path kubeconfig = environment(variable);
  if (kubeconfig.empty()) throw std::runtime_error(std::string(variable) + " names no kubeconfig");
  nlohmann::json granted = nlohmann::json::array();
  for (const DocumentedRule& rule : rules) {
    granted.push_back({{"apiGroups", {rule.group}}, {"resources", {rule.resource}}, {"verbs", rule.verbs}});
  }
  const std::string name = "rotor-test-" + table;
  auto role = client_->create(kRoles, ns_,
                              {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                               {"kind", "Role"},
                               {"metadata", {{"name", name}}},
                               {"rules", granted}});
  if (!role.ok()) throw std::runtime_error("Role " + name + ": " + role.status().message());
  auto binding = client_->create(
      kRoleBindings, ns_,
      {{"apiVersion", "rbac.authorization.k8s.io/v1"},
       {"kind", "RoleBinding"},
       {"metadata", {{"name", name}}},
       {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
       {"subjects", {{{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", userName}}}}});
  if (!binding.ok()) throw std::runtime_error("RoleBinding " + name + ": " + binding.status().message());
  // RBAC takes effect once the authorizer's cache has seen the binding.
  auto user = kube::loadKubeconfig(kubeconfig);
  if (!user.ok()) throw std::runtime_error(std::string(variable) + ": " + user.status().message());
  auto transport = kube::makeHttpsTransport(*user);
  if (!transport.ok()) throw std::runtime_error(transport.status().message());
  kube::Client asUser(**transport);
  // Its first rule (read the rotations) tells when the binding applies.
  const kube::ResourceType& probe = kube::kRotations;
  for (int i = 0; i < 100; ++i) {
    if (asUser.list(probe, ns_).status().code() != Code::kPermissionDenied) return kubeconfig;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error("the Role's rules did not take effect for " + userName);
}

std::filesystem::path TestCluster::kubeconfigWithClusterRules(const std::string& table,
                                                              const std::vector<std::string>& signerNames) {
  const std::vector<DocumentedRule> rules = documentedRules(table);
  if (rules.empty()) throw std::runtime_error("docs/rbac.md has no table " + table);
  if (fake_) {
    const std::string user = "rotor-controller-rbac";
    fake_->api().addUser(user + "-token", user);
    for (const DocumentedRule& rule : rules) {
      if (rule.resource == "signers" && signerNames.empty()) continue;  // the fake does not tell signers apart
      fake_->api().grant(user, rule.verbs, rule.group + "/" + rule.resource);
    }
    return fake_->writeKubeconfig(user + "-token");
  }
  const std::filesystem::path kubeconfig = environment("ROTOR_TEST_CONTROLLER_KUBECONFIG");
  if (kubeconfig.empty()) throw std::runtime_error("ROTOR_TEST_CONTROLLER_KUBECONFIG names no kubeconfig");
  nlohmann::json granted = nlohmann::json::array();
  for (const DocumentedRule& rule : rules) {
    nlohmann::json r = {{"apiGroups", {rule.group}}, {"resources", {rule.resource}}, {"verbs", rule.verbs}};
    if (rule.resource == "signers") {
      if (signerNames.empty()) continue;
      r["resourceNames"] = signerNames;
    }
    granted.push_back(std::move(r));
  }
  const std::string name = ns_ + "-" + table;  // cluster-scoped: named after this instance's namespace
  const nlohmann::json role = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                               {"kind", "ClusterRole"},
                               {"metadata", {{"name", name}}},
                               {"rules", granted}};
  auto written = client_->create(kClusterRoles, "", role);
  if (written.status().code() == Code::kAlreadyExists) {
    written = client_->patch(kClusterRoles, "", name, kube::PatchType::kMerge, {{"rules", granted}});
  } else if (written.ok()) {
    clusterRoles_.push_back(name);
    written = client_->create(
        kClusterRoleBindings, "",
        {{"apiVersion", "rbac.authorization.k8s.io/v1"},
         {"kind", "ClusterRoleBinding"},
         {"metadata", {{"name", name}}},
         {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", name}}},
         {"subjects", {{{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "rotor-controller"}}}}});
  }
  if (!written.ok()) throw std::runtime_error("ClusterRole " + name + ": " + written.status().message());
  // RBAC takes effect once the authorizer's cache has seen the change: asked as that user, about
  // each rule (a signer by its name).
  auto user = kube::loadKubeconfig(kubeconfig);
  if (!user.ok()) throw std::runtime_error(user.status().message());
  auto transport = kube::makeHttpsTransport(*user);
  if (!transport.ok()) throw std::runtime_error(transport.status().message());
  kube::Client asUser(**transport);
  const auto allowed = [&](const nlohmann::json& attributes) {
    auto review = asUser.create(kube::kSelfSubjectAccessReviews, "",
                                {{"apiVersion", "authorization.k8s.io/v1"},
                                 {"kind", "SelfSubjectAccessReview"},
                                 {"spec", {{"resourceAttributes", attributes}}}});
    return review.ok() && review->value("/status/allowed"_json_pointer, false);
  };
  for (const nlohmann::json& rule : granted) {
    nlohmann::json attributes = {
        {"group", rule["apiGroups"][0]}, {"resource", rule["resources"][0]}, {"verb", rule["verbs"][0]}};
    if (rule.contains("resourceNames")) attributes["name"] = rule["resourceNames"][0];
    int tries = 0;
    while (!allowed(attributes)) {
      if (++tries == 100) throw std::runtime_error("the ClusterRole's rules did not take effect: " + attributes.dump());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return kubeconfig;
}

StatusOr<std::string> TestCluster::makeNamespace(const std::string& suffix,
                                                 const std::map<std::string, std::string>& labels) {
  const std::string name = ns_ + "-" + suffix;
  nlohmann::json object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
  if (!labels.empty()) object["metadata"]["labels"] = labels;
  RETURN_IF_ERROR(client_->create(kube::kNamespaces, "", object).status());
  extraNamespaces_.push_back(name);
  return name;
}

Status TestCluster::labelNamespace(const std::string& name, const nlohmann::json& labels) {
  return client_->patch(kube::kNamespaces, "", name, kube::PatchType::kMerge, {{"metadata", {{"labels", labels}}}})
      .status();
}

TestCluster::~TestCluster() {
  // A real server removes everything in them; the fake goes away whole.
  if (fake_) return;
  for (const std::string& name : clusterRoles_) {
    (void)client_->remove(kClusterRoleBindings, "", name);
    (void)client_->remove(kClusterRoles, "", name);
  }
  for (const std::string& ns : extraNamespaces_) (void)client_->remove(kube::kNamespaces, "", ns);
  (void)client_->remove(kube::kNamespaces, "", ns_);
}

}  // namespace rotor::testing
