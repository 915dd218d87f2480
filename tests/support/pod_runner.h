#pragma once

// Plays the node for pods that run the rotor binary, on a cluster that has none: the fake API
// server, or ../shared/tools/real-cluster (an API server and controller-manager, no scheduler,
// kubelet or kube-proxy). For each pod matching a selector it runs the container's arguments with
// the rotor binary, reports the pod running with a pod IP, probes its readiness as the kubelet
// does and writes the Ready condition, restarts a process that exits, and stops the process with
// SIGTERM when its pod is deleted (an unscheduled pod goes at once: eviction, rollout, uninstall).
//
// What a node would provide is translated: `--in-cluster` becomes the kubeconfig given (the pod's
// service account), $(VAR) references to the downward API are expanded, and every container port
// a flag listens on (HOST:PORT) is a free loopback port; the pod IP is made up (Kubernetes refuses
// loopback endpoints), and localPort() maps an endpoint back to the loopback port for a test proxy.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/kube/client.h"
#include "tests/support/child_process.h"

namespace rotor::testing {

/** Whether the pod's Ready condition is True, as the kubelet reports it. */
bool podReady(const nlohmann::json& pod);

struct PodRunnerOptions {
  std::string ns;
  std::string labelSelector;
  /** What `--in-cluster` becomes for a pod: a kubeconfig with its service account's rights. */
  std::function<std::string(const nlohmann::json& pod)> kubeconfig;
  std::filesystem::path workDir;
  /** Binds pods to this Node (created when missing), as the scheduler would: a real server's
   *  EndpointSlice controller skips pods without a node, and only then is deletion graceful.
   *  Empty on the fake, which deletes pods at once and computes no endpoints. */
  std::string node;
};

class PodRunner {
public:
  PodRunner(kube::Client& client, PodRunnerOptions options);
  /** Stops every process it runs (SIGTERM, then SIGKILL). */
  ~PodRunner();
  PodRunner(const PodRunner&) = delete;
  PodRunner& operator=(const PodRunner&) = delete;

  /** Plays cluster DNS and kube-proxy for arguments: `address` ("svc.ns.svc:port") in a pod's
   *  arguments becomes `local` ("127.0.0.1:port", e.g. a ServiceProxy). */
  void addHost(const std::string& address, const std::string& local);
  /** Plays the kubelet's service links: a variable every pod started from now on has (such as
   *  ROTOR_SERVICE_HOST), unless its container sets its own. */
  void addServiceEnv(const std::string& name, const std::string& value);
  /** Sends `sig` to the process of the pod; false when it runs none. A process that exits while
   *  its pod exists is started again, as a container restart. */
  bool signal(const std::string& pod, int sig);
  /** The loopback port behind a pod's IP and container port; 0 when unknown. */
  uint16_t localPort(const std::string& podIp, int containerPort) const;
  /** The loopback port of the pod's named container port; 0 when unknown. */
  uint16_t localPortOf(const std::string& pod, const std::string& portName) const;
  /** What every process of the pod has written, oldest first. */
  std::string output(const std::string& pod) const;
  /** Pods it runs a process for now. */
  std::vector<std::string> pods() const;
  /** Processes started in all (first starts and restarts). */
  int started() const;

private:
  struct Pod {
    std::string uid, ip;
    nlohmann::json container;                // the first container's spec
    std::map<int, uint16_t> ports;           // container port -> loopback port
    std::map<std::string, std::string> env;  // resolved values, for $(VAR)
    std::unique_ptr<ChildProcess> process;
    int restarts = 0;
    bool ready = false;
    bool statusWritten = false;
    std::optional<int> exitCode;                             // ran to completion (restartPolicy Never)
    std::chrono::steady_clock::time_point terminatingSince;  // SIGTERM sent (the pod is being deleted)
  };

  void loop(std::stop_token stop);
  void sync();
  void bind(const std::string& name);
  /** Stops the process of a pod being deleted; true while it is still stopping. Once stopped,
   *  confirms the deletion. */
  bool terminate(const std::string& name, const std::string& uid);
  void start(const nlohmann::json& object, Pod& pod);
  std::vector<std::string> argvOf(const Pod& pod, const std::string& kubeconfig) const;
  bool probeReady(const Pod& pod) const;
  void writeStatus(const std::string& name, Pod& pod);

  kube::Client& client_;
  const PodRunnerOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Pod> pods_;
  std::map<std::string, std::vector<std::filesystem::path>> logs_;
  std::map<std::string, std::string> serviceEnv_;
  std::map<std::string, std::string> hosts_;  // address in arguments -> loopback address  // kept after a pod goes
  int nextIp_ = 10;
  bool nodeCreated_ = false;
  int started_ = 0;
  std::jthread loop_;  // last: runs over the members above
};

}  // namespace rotor::testing
