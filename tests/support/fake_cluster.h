#pragma once

// The fake API server served over HTTPS on 127.0.0.1 (a port of its own), so that tests drive
// rotor's real client, transport and TLS code against it. Authentication is on: the admin token
// may do anything; other users get what FakeApiServer::grant gives them.

#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "controller/http/server.h"
#include "controller/kube/client.h"
#include "controller/kube/kubeconfig.h"
#include "tests/support/fake_apiserver.h"
#include "tests/support/temp_dir.h"

namespace rotor::testing {

/** The namespace the Kubernetes client tests work in. */
inline constexpr char kTestNamespace[] = "rotor-test";

/** apiextensions.k8s.io/v1 CustomResourceDefinitions, which only tests create. */
inline constexpr kube::ResourceType kCustomResourceDefinitions{
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false};
/** rotor's CRD as shipped in crds/, as an object to create. */
nlohmann::json shippedRotationCrd();

/** One row of a permission table in docs/rbac.md. */
struct DocumentedRule {
  std::string group;     // "" for the core group
  std::string resource;  // "certificaterotations/status"
  std::set<std::string> verbs;
};
/** The rows of one table in docs/rbac.md ("controller-rbac" or "operator-rbac", the marker
 *  around it). */
std::vector<DocumentedRule> documentedRules(const std::string& table);

/** Grants `user` exactly the rules of one table in docs/rbac.md: cluster-wide, or in namespace
 *  `ns` only. Returns how many rules it granted. */
int grantDocumentedRules(FakeApiServer& api, const std::string& user, const std::string& table,
                         const std::string& ns = "");

class FakeCluster {
public:
  static constexpr const char* kAdminToken = "fake-cluster-admin-token";

  /** Starts serving; the API server's certificate is issued for 127.0.0.1 by a fresh CA. */
  FakeCluster();
  ~FakeCluster();

  FakeApiServer& api() { return api_; }
  uint16_t port() const { return server_->port(); }
  /** How a client reaches it with `token` (the admin's by default). */
  kube::ClusterConfig config(const std::string& token = kAdminToken) const;
  /** The admin's transport and client over HTTPS, for tests to arrange and inspect the cluster. */
  kube::Transport& transport() { return *transport_; }
  kube::Client& client() { return *client_; }
  /** A kubeconfig file naming this cluster and `token`, as kubectl writes one. */
  std::filesystem::path writeKubeconfig(const std::string& token = kAdminToken) const;

  /** Registers rotor's CRD as shipped in crds/ and creates `ns` (the "default" namespace exists). */
  void installRotor(const std::string& ns);
  void createNamespace(const std::string& ns);

private:
  RealClock clock_;
  TempDir dir_;
  std::string caPem_;
  std::ostringstream logText_;
  Logger log_{logText_, clock_, LogLevel::kWarn};
  FakeApiServer api_{clock_};
  std::unique_ptr<http::HttpServer> server_;  // after api_: stops before it goes
  std::unique_ptr<kube::Transport> transport_;
  std::unique_ptr<kube::Client> client_;
};

}  // namespace rotor::testing
