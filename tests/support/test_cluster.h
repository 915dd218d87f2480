#pragma once

// The cluster a contract or end-to-end test runs against: a real API server when
// ROTOR_TEST_KUBECONFIG names a kubeconfig (its current context, an admin), else the fake API
// server over HTTPS. Each instance works in a namespace of its own, created at start and deleted
// at the end. Tests that need users without rights of their own (least privilege) get them from
// ROTOR_TEST_CONTROLLER_KUBECONFIG (user rotor-controller) and ROTOR_TEST_OPERATOR_KUBECONFIG (user
// rotor-viewer) on a real server, as ../shared/tools/real-cluster/up makes them, or tokens on the fake.

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "controller/kube/client.h"
#include "tests/support/fake_cluster.h"

namespace rotor::testing {

class TestCluster {
public:
  TestCluster();
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  /** The fake behind it, for faults only a fake can cause; null against a real server. */
  FakeApiServer* fake() { return fake_ ? &fake_->api() : nullptr; }
  const kube::ClusterConfig& config() const { return config_; }
  kube::Client& client() { return *client_; }
  /** The namespace this instance owns. */
  const std::string& ns() const { return ns_; }
  /** Makes another namespace, "<ns()>-<suffix>", removed with this instance (a real server keeps
   *  it otherwise); returns its name. */
  StatusOr<std::string> makeNamespace(const std::string& suffix, const std::map<std::string, std::string>& labels = {});
  /** Merges `labels` into a namespace's labels (a null value removes one). */
  Status labelNamespace(const std::string& name, const nlohmann::json& labels);
  /** A kubeconfig file for the admin. */
  std::filesystem::path adminKubeconfig() const;
  /**
   * A kubeconfig file of a user that holds exactly the rules of `table` in docs/rbac.md
   * ("controller-rbac", "operator-rbac") in ns() and nothing else: a RoleBinding of a Role made
   * from the table on a real server, the same grants on the fake. Waits until they apply.
   */
  std::filesystem::path kubeconfigWithDocumentedRules(const std::string& table);
  /**
   * The controller user's kubeconfig, holding the cluster-wide rules of `table` in docs/rbac.md
   * (a ClusterRole and its binding on a real server, removed with this instance; grants on the
   * fake) besides what it held; a `signers` rule names `signerNames` (resourceNames), and is left
   * out while there are none. Called again, it changes the rules. Waits until they apply.
   */
  std::filesystem::path kubeconfigWithClusterRules(const std::string& table,
                                                   const std::vector<std::string>& signerNames);

private:
  std::unique_ptr<FakeCluster> fake_;
  kube::ClusterConfig config_;
  std::unique_ptr<kube::Transport> transport_;
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
  std::vector<std::string> extraNamespaces_;
  std::vector<std::string> clusterRoles_;  // made on a real server: removed at the end
  std::filesystem::path adminKubeconfig_;
};

}  // namespace rotor::testing
