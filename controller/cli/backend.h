#pragma once

// Where the CLI and the controller keep state: a local state directory, or a Kubernetes cluster
// (a kubeconfig, the pod's service account, or — as the kubectl plugin — kubectl's own config).

#include <filesystem>
#include <memory>
#include <string>

#include "controller/kube/client.h"
#include "controller/store/kube/kube_store.h"
#include "controller/store/local/local_store.h"

namespace rotor::cli {

struct BackendChoice {
  std::string localDir;                  // --local or $ROTOR_LOCAL_DIR
  std::string kubeconfig;                // --kubeconfig
  std::string context;                   // --context
  bool inCluster = false;                // --in-cluster
  bool asKubectlPlugin = false;          // invoked as kubectl-rotor: kubectl's configuration by default
  std::string watchNamespace;            // cluster mode: rotations only from here (RBAC may allow no more)
  bool allowWorldReadableCaKey = false;  // --allow-world-readable-ca-key (local mode)
};

class Backend {
public:
  /** Local mode when a state directory is given; cluster mode otherwise (if one is named). */
  static StatusOr<std::unique_ptr<Backend>> open(const BackendChoice& choice, const Clock& clock);

  store::Store& store() { return local_ ? static_cast<store::Store&>(*local_) : *kubeStore_; }
  /** Local mode's store (directory locks, watching); null in cluster mode. */
  store::local::LocalStore* local() { return local_.get(); }
  /** Cluster mode's store; null in local mode. */
  store::kube::KubeStore* kube() { return kubeStore_.get(); }
  /** Cluster mode's client and configuration; null in local mode. */
  kube::Client* client() { return client_.get(); }
  const kube::ClusterConfig& cluster() const { return cluster_; }
  /** The namespace used when none is given: the kubeconfig context's, or "default". */
  std::string defaultNamespace() const { return local_ ? "default" : cluster_.ns; }

private:
  std::unique_ptr<store::local::LocalStore> local_;
  kube::ClusterConfig cluster_;
  std::unique_ptr<kube::Transport> transport_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<store::kube::KubeStore> kubeStore_;
};

}  // namespace rotor::cli
