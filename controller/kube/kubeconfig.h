#pragma once

// Where the Kubernetes API is and how to authenticate to it: from a kubeconfig file (as kubectl
// reads it) or from the service account a pod runs as.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port"
  /** PEM of the CAs the API server's certificate must chain to; empty: the system roots. */
  std::string caPem;
  bool insecureSkipTlsVerify = false;
  /** Bearer token, or a file re-read before each use (projected service account tokens rotate). */
  std::string token;
  std::filesystem::path tokenFile;
  /** Client certificate authentication (PEM). */
  std::string clientCertPem;
  std::string clientKeyPem;
  /** The context's namespace ("default" when it names none). */
  std::string ns = "default";
  std::string context;

  /** The bearer token to send now: tokenFile's current content when set, else token. */
  StatusOr<std::string> bearerToken() const;
};

/**
 * Reads a kubeconfig (YAML): `context` or else current-context, its cluster (server,
 * certificate-authority or -data, insecure-skip-tls-verify) and user (token, tokenFile,
 * client-certificate/-key or their -data). Relative paths are relative to the file. Users that
 * need exec plugins or auth providers are refused with a clear message. Never puts a secret in an
 * error message.
 */
StatusOr<ClusterConfig> loadKubeconfig(const std::filesystem::path& path, std::string_view context = {});
/** loadKubeconfig on text already read from `path` (which names it in errors and anchors
 *  relative paths). */
StatusOr<ClusterConfig> parseKubeconfig(std::string_view text, const std::filesystem::path& path,
                                        std::string_view context = {});

/**
 * The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT from `env`, and the service
 * account's token (re-read on use), CA and namespace from `accountDir`.
 */
StatusOr<ClusterConfig> inClusterConfig(
    const std::map<std::string, std::string>& env,
    const std::filesystem::path& accountDir = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace rotor::kube
