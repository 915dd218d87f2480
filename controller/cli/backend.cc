#include "controller/cli/backend.h"

#include <cstdlib>

namespace rotor::cli {
namespace {

/** kubectl's configuration: the first file of $KUBECONFIG, else ~/.kube/config. */
std::string kubectlConfig() {
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    const std::string paths = env;
    return paths.substr(0, paths.find(':'));
  }
  const char* home = std::getenv("HOME");
  return home == nullptr ? "" : std::string(home) + "/.kube/config";
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (const char* name : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  return env;
}

}  // namespace

StatusOr<std::unique_ptr<Backend>> Backend::open(const BackendChoice& choice, const Clock& clock) {
  auto backend = std::unique_ptr<Backend>(new Backend());
  if (!choice.localDir.empty()) {
    auto local = store::local::LocalStore::open(
        {.root = choice.localDir, .allowWorldReadableCaKey = choice.allowWorldReadableCaKey}, clock);
    if (!local.ok()) return local.status();
    backend->local_ = std::move(local).value();
    return backend;
  }
  StatusOr<kube::ClusterConfig> cluster = invalidArgument(
      "no state: pass --local DIR (or set ROTOR_LOCAL_DIR) for local mode, or --kubeconfig FILE or --in-cluster for a "
      "Kubernetes cluster");
  if (choice.inCluster) {
    cluster = kube::inClusterConfig(environment());
  } else if (!choice.kubeconfig.empty()) {
    cluster = kube::loadKubeconfig(choice.kubeconfig, choice.context);
  } else if (choice.asKubectlPlugin) {
    cluster = kube::loadKubeconfig(kubectlConfig(), choice.context);
  }
  if (!cluster.ok()) return cluster.status();
  backend->cluster_ = *cluster;
  auto transport = kube::makeHttpsTransport(*cluster, {.userAgent = "rotor-controller/0.1.0"});
  if (!transport.ok()) return transport.status();
  backend->transport_ = std::move(transport).value();
  backend->client_ = std::make_unique<kube::Client>(*backend->transport_);
  backend->kubeStore_ = std::make_unique<store::kube::KubeStore>(
      *backend->client_, clock, store::kube::KubeStoreOptions{.watchNamespace = choice.watchNamespace});
  return backend;
}

}  // namespace rotor::cli
