#include "tests/support/fake_cluster.h"

#include <fstream>

#include "controller/api/yaml_codec.h"
#include "controller/common/strings.h"
#include "tests/support/pki_fixtures.h"

namespace rotor::testing {

FakeCluster::FakeCluster() {
  const SystemTime now = clock_.now();
  const pki::CertificateAuthority ca = makeCa("fake-apiserver-ca", std::chrono::hours(24), {}, now);
  pki::LeafSpec spec{"kube-apiserver", {"localhost"}, {"127.0.0.1"}, std::chrono::hours(24)};
  const IssuedLeaf leaf = issueLeaf(ca, spec, now);
  caPem_ = ca.certificate().toPem();
  api_.setRootCa(caPem_);
  http::ServerOptions options;
  options.certFile = dir_.write("apiserver.crt", leaf.certificate.toPem()).string();
  options.keyFile = dir_.write("apiserver.key", leaf.key.toPem()).string();
  options.maxBodyBytes = 3 * 1024 * 1024;  // the API server takes objects up to about 1.5 MiB
  options.maxHeaderBytes = 16 * 1024;
  options.idleTimeout = std::chrono::seconds(90);
  options.maxConnections = 200;
  options.threads = 2;
  api_.addUser(kAdminToken, "admin", true);
  auto started = http::HttpServer::start(
      options, [this](const http::HttpRequest& request) { return api_.handle(request); }, log_);
  if (!started.ok()) throw std::runtime_error("fake API server: " + started.status().message());
  server_ = std::move(started).value();
  transport_ = std::move(kube::makeHttpsTransport(config())).value();
  client_ = std::make_unique<kube::Client>(*transport_);
  createNamespace("default");  // as every cluster has
}

FakeCluster::~FakeCluster() { server_.reset(); }

kube::ClusterConfig FakeCluster::config(const std::string& token) const {
  kube::ClusterConfig c;
  c.server = "https://127.0.0.1:" + std::to_string(port());
  c.caPem = caPem_;
  c.token = token;
  c.context = "fake";
  return c;
}

std::filesystem::path FakeCluster::writeKubeconfig(const std::string& token) const {
  const std::filesystem::path ca = dir_.write("ca.crt", caPem_);
  const std::string text =
      "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
      "clusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:" +
      std::to_string(port()) + "\n    certificate-authority: " + ca.string() +
      "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: rotor\n"
      "users:\n- name: rotor\n  user:\n    token: " +
      token + "\n";
  return dir_.write("kubeconfig-" + std::to_string(std::hash<std::string>{}(token)), text);
}

nlohmann::json shippedRotationCrd() {
  auto documents = api::yamlToJsonDocuments(readSourceFile("crds/certificaterotations.rotor.dev.yaml"));
  if (!documents.ok() || documents->size() != 1) throw std::runtime_error("crds/certificaterotations.rotor.dev.yaml");
  return documents->front();
}

void FakeCluster::createNamespace(const std::string& ns) {
  auto created = client_->create(kube::kNamespaces, "",
                                 {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!created.ok()) throw std::runtime_error("namespace " + ns + ": " + created.status().message());
}

std::vector<DocumentedRule> documentedRules(const std::string& table) {
  std::ifstream in(sourceDir() / "docs/rbac.md");
  std::string line;
  bool inTable = false;
  std::vector<DocumentedRule> rules;
  while (std::getline(in, line)) {
    if (line.find(table + ":begin") != std::string::npos) inTable = true;
    if (line.find(table + ":end") != std::string::npos) break;
    if (!inTable || !line.starts_with("| ") || line.starts_with("| API group") || line.starts_with("| ---")) continue;
    std::vector<std::string> cells;
    for (const std::string& cell : split(line, '|')) cells.emplace_back(trim(cell));
    DocumentedRule rule{cells.at(1) == "(core)" ? "" : cells.at(1), cells.at(2), {}};
    for (const std::string& verb : split(cells.at(3), ',')) rule.verbs.emplace(trim(verb));
    rules.push_back(std::move(rule));
  }
  return rules;
}

int grantDocumentedRules(FakeApiServer& api, const std::string& user, const std::string& table, const std::string& ns) {
  const std::vector<DocumentedRule> rules = documentedRules(table);
  for (const DocumentedRule& rule : rules) api.grant(user, rule.verbs, rule.group + "/" + rule.resource, ns);
  return static_cast<int>(rules.size());
}

void FakeCluster::installRotor(const std::string& ns) {
  auto created = client_->create(kCustomResourceDefinitions, "", shippedRotationCrd());
  if (!created.ok()) throw std::runtime_error("rotor's CRD: " + created.status().message());
  if (ns != "default") createNamespace(ns);
}

}  // namespace rotor::testing
