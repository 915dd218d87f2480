#include "controller/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "controller/common/strings.h"
#include "controller/pki/base64.h"

namespace rotor::kube {
namespace {

namespace fs = std::filesystem;

StatusOr<std::string> readFile(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return failedPrecondition("cannot read " + what + " " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string scalar(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.Scalar() : std::string();
}

/** The entry of a named list (clusters, users, contexts) called `name`, or an undefined node. */
YAML::Node named(const YAML::Node& list, const std::string& name, const char* inner) {
  if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
  for (const YAML::Node& item : list) {
    if (item.IsMap() && scalar(item, "name") == name) return item[inner];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

/** PEM from `<key>-data` (base64) or from the file `<key>` (relative to the kubeconfig). */
StatusOr<std::string> pemField(const YAML::Node& map, const std::string& key, const fs::path& base,
                               const std::string& what) {
  if (const std::string data = scalar(map, (key + "-data").c_str()); !data.empty()) {
    StatusOr<std::string> pem = pki::base64Decode(data);
    if (!pem.ok()) return invalidArgument(what + " (" + key + "-data) is not valid base64");
    return pem;
  }
  if (const std::string file = scalar(map, key.c_str()); !file.empty()) {
    const fs::path path = fs::path(file).is_absolute() ? fs::path(file) : base / file;
    return readFile(path, what);
  }
  return std::string();
}

}  // namespace

StatusOr<std::string> ClusterConfig::bearerToken() const {
  if (tokenFile.empty()) return token;
  ASSIGN_OR_RETURN(std::string text, readFile(tokenFile, "token file"));
  return std::string(trim(text));
}

StatusOr<ClusterConfig> loadKubeconfig(const fs::path& path, std::string_view context) {
  ASSIGN_OR_RETURN(std::string text, readFile(path, "kubeconfig"));
  return parseKubeconfig(text, path, context);
}

StatusOr<ClusterConfig> parseKubeconfig(std::string_view text, const fs::path& path, std::string_view context) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return invalidArgument("kubeconfig " + path.string() + " is not valid YAML (line " +
                           std::to_string(e.mark.line + 1) + ")");
  }
  if (!root.IsMap()) return invalidArgument("kubeconfig " + path.string() + " is not a YAML mapping");
  ClusterConfig c;
  c.context = context.empty() ? scalar(root, "current-context") : std::string(context);
  if (c.context.empty())
    return invalidArgument("kubeconfig " + path.string() + " has no current-context; pass a context");
  const YAML::Node ctx = named(root["contexts"], c.context, "context");
  if (!ctx || !ctx.IsMap()) return notFound("kubeconfig " + path.string() + " has no context \"" + c.context + "\"");
  const std::string clusterName = scalar(ctx, "cluster"), userName = scalar(ctx, "user");
  if (const std::string ns = scalar(ctx, "namespace"); !ns.empty()) c.ns = ns;
  const YAML::Node cluster = named(root["clusters"], clusterName, "cluster");
  if (!cluster || !cluster.IsMap()) {
    return notFound("kubeconfig context \"" + c.context + "\" names cluster \"" + clusterName +
                    "\", which is not defined");
  }
  c.server = scalar(cluster, "server");
  if (!c.server.starts_with("https://") && !c.server.starts_with("http://")) {
    return invalidArgument("cluster \"" + clusterName + "\" has no https:// server URL");
  }
  c.insecureSkipTlsVerify = scalar(cluster, "insecure-skip-tls-verify") == "true";
  const fs::path base = path.parent_path();
  ASSIGN_OR_RETURN(c.caPem, pemField(cluster, "certificate-authority", base, "cluster CA"));
  const YAML::Node user = named(root["users"], userName, "user");
  if (!userName.empty() && (!user || !user.IsMap())) {
    return notFound("kubeconfig context \"" + c.context + "\" names user \"" + userName + "\", which is not defined");
  }
  if (user && user.IsMap()) {
    if (user["exec"] || user["auth-provider"]) {
      return invalidArgument("user \"" + userName +
                             "\" authenticates with an exec plugin or auth provider, which rotor does not run; use a "
                             "token, a client certificate or --in-cluster");
    }
    c.token = scalar(user, "token");
    if (const std::string file = scalar(user, "tokenFile"); !file.empty()) {
      c.tokenFile = fs::path(file).is_absolute() ? fs::path(file) : base / file;
    }
    ASSIGN_OR_RETURN(c.clientCertPem, pemField(user, "client-certificate", base, "client certificate"));
    ASSIGN_OR_RETURN(c.clientKeyPem, pemField(user, "client-key", base, "client key"));
    if (c.clientCertPem.empty() != c.clientKeyPem.empty()) {
      return invalidArgument("user \"" + userName + "\" needs both a client certificate and its key");
    }
  }
  return c;
}

StatusOr<ClusterConfig> inClusterConfig(const std::map<std::string, std::string>& env, const fs::path& accountDir) {
  const auto host = env.find("KUBERNETES_SERVICE_HOST");
  const auto port = env.find("KUBERNETES_SERVICE_PORT");
  if (host == env.end() || port == env.end() || host->second.empty() || port->second.empty()) {
    return failedPrecondition("not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  ClusterConfig c;
  // An IPv6 service address needs brackets in a URL.
  const bool v6 = host->second.find(':') != std::string::npos;
  c.server = "https://" + (v6 ? "[" + host->second + "]" : host->second) + ":" + port->second;
  c.tokenFile = accountDir / "token";
  ASSIGN_OR_RETURN(std::string token, c.bearerToken());
  if (token.empty()) return failedPrecondition("the service account token " + c.tokenFile.string() + " is empty");
  ASSIGN_OR_RETURN(c.caPem, readFile(accountDir / "ca.crt", "service account CA"));
  if (StatusOr<std::string> ns = readFile(accountDir / "namespace", "namespace"); ns.ok() && !trim(*ns).empty()) {
    c.ns = std::string(trim(*ns));
  }
  c.context = "in-cluster";
  return c;
}

}  // namespace rotor::kube
