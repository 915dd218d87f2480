// The adoption API behind a Service across leader failovers: two controller pods elect a leader,
// the leader labels its pod, and agents check in through one address (a Service selecting the
// label) while the leader's pod is deleted (graceful) and while a leader's process is killed
// (crash). Agents must see at most a few seconds of refused connections, every check-in the API
// acknowledged must be in the records the next leader serves, and no agent may be counted twice.
// Runs on the fake API server, and on a real one when ROTOR_TEST_KUBECONFIG names it; no kubelet
// or kube-proxy runs on either: PodRunner and ServiceProxy play them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "controller/kube/leader_pod_label.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/pod_runner.h"
#include "tests/support/service_proxy.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"
#include "tests/support/tls_client.h"

namespace rotor::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr kube::ResourceType kServices{"", "v1", "services", "Service"};
constexpr int kAgents = 20;

const char* kRotation = R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: edge-proxy}
spec:
  certificate: {commonName: edge-proxy.edge.svc, dnsNames: [edge-proxy.edge.svc]}
  servers: [{name: proxy, secretName: edge-proxy-tls}]
  ca:
    generate: {commonName: Edge Proxy CA}
  trustBundle: {configMapName: edge-proxy-ca}
)";

/** A controller pod as the chart makes it: leader election, the leader label, the adoption API. */
json controllerPod(const std::string& name, const std::string& ns) {
  const auto fieldRef = [](const char* path) { return json{{"fieldRef", {{"fieldPath", path}}}}; };
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"labels", {{"app", "rotor"}}}}},
      {"spec",
       {{"containers",
         {{{"name", "controller"},
           {"image", "registry.invalid/rotor:test"},
           {"args",
            {"controller", "--in-cluster", "--watch-namespace", ns, "--leader-elect", "--leader-election-namespace", ns,
             "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms",
             "--leader-label-pod=$(POD_NAMESPACE)/$(POD_NAME)", "--metrics-addr=0.0.0.0:9402",
             "--adoption-addr=0.0.0.0:8444", "--adoption-insecure"}},
           {"env",
            {{{"name", "POD_NAME"}, {"valueFrom", fieldRef("metadata.name")}},
             {{"name", "POD_NAMESPACE"}, {"valueFrom", fieldRef("metadata.namespace")}}}},
           {"ports", {{{"name", "metrics"}, {"containerPort", 9402}}, {{"name", "adoption"}, {"containerPort", 8444}}}},
           {"readinessProbe", {{"httpGet", {{"path", "/readyz"}, {"port", "metrics"}}}, {"periodSeconds", 1}}}}}}}}};
}

json adoptionService() {
  const json port = {{"name", "adoption"}, {"port", 8444}, {"targetPort", "adoption"}};
  const json spec = {{"selector", {{"app", "rotor"}, {std::string(kube::kLeaderLabel), "true"}}},
                     {"ports", json::array({port})}};
  return {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "rotor"}}}, {"spec", spec}};
}

/** Agents checking in through one address, each with a counter as its version; what the API
 *  acknowledged, and the longest time any agent went without an acknowledgement. */
class Fleet {
public:
  Fleet(uint16_t port, std::string ns, std::string token) : port_(port), ns_(std::move(ns)), token_(std::move(token)) {
    for (int i = 0; i < kAgents; ++i) {
      threads_.emplace_back([this, i](std::stop_token stop) { run(stop, i); });
    }
  }
  ~Fleet() { stop(); }

  void stop() {
    for (auto& t : threads_) t.request_stop();
    threads_.clear();
  }
  /** The last version each agent had acknowledged. */
  std::map<std::string, int> acknowledged() const {
    std::lock_guard lock(mu_);
    return acked_;
  }
  /** Forgets the longest gap so far; the next longestGap() measures from now. */
  void resetGap() {
    std::lock_guard lock(mu_);
    longest_ = 0ms;
    const auto now = std::chrono::steady_clock::now();
    for (auto& [id, at] : lastAckAt_) at = now;
  }
  std::chrono::milliseconds longestGap() const {
    std::lock_guard lock(mu_);
    auto longest = longest_;
    for (const auto& [id, at] : lastAckAt_) {
      longest = std::max(longest,
                         std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - at));
    }
    return longest;
  }
  int refusals() const { return refusals_.load(); }

private:
  void run(std::stop_token stop, int index) {
    const std::string id = "agent-" + std::to_string(index);
    for (int version = 1; !stop.stop_requested(); ++version) {
      const std::string body =
          R"({"trusted":["sha256:)" + std::string(64, 'a') + R"("],"version":")" + std::to_string(version) + R"("})";
      const std::string request =
          "PUT /v1/namespaces/" + ns_ + "/rotations/edge-proxy/agents/" + id +
          " HTTP/1.1\r\nHost: rotor\r\nAuthorization: Bearer " + token_ +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nConnection: close\r\n\r\n" + body;
      if (send(request)) {
        std::lock_guard lock(mu_);
        acked_[id] = version;
        const auto now = std::chrono::steady_clock::now();
        if (auto last = lastAckAt_.find(id); last != lastAckAt_.end()) {
          longest_ = std::max(longest_, std::chrono::duration_cast<std::chrono::milliseconds>(now - last->second));
        }
        lastAckAt_[id] = now;
      } else {
        ++refusals_;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  /** True when the API answered 200. */
  bool send(const std::string& request) const {
    Socket socket(port_, 2s);
    if (socket.fd() < 0 ||
        ::send(socket.fd(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      return false;
    }
    char head[13] = {};
    return ::recv(socket.fd(), head, 12, MSG_WAITALL) == 12 && std::string_view(head, 12) == "HTTP/1.1 200";
  }

  const uint16_t port_;
  const std::string ns_, token_;
  mutable std::mutex mu_;
  std::map<std::string, int> acked_;
  std::map<std::string, std::chrono::steady_clock::time_point> lastAckAt_;
  std::chrono::milliseconds longest_{0};
  std::atomic<int> refusals_{0};
  std::vector<std::jthread> threads_;
};

class AdoptionFailoverTest : public ::testing::Test {
protected:
  void SetUp() override {
    kubeconfig_ = cluster_.adminKubeconfig().string();
    const std::string controllerKubeconfig = cluster_.kubeconfigWithDocumentedRules("controller-rbac").string();
    ASSERT_EQ(rotor({"apply", "-f", dir_.write("rotation.yaml", kRotation).string()}), 0);
    ASSERT_OK(client().create(kServices, ns(), adoptionService()));
    runner_ = std::make_unique<PodRunner>(
        client(),
        PodRunnerOptions{ns(), "app=rotor", [controllerKubeconfig](const json&) { return controllerKubeconfig; },
                         dir_.path() / "pods", cluster_.fake() ? "" : "rotor-test-node"});
    proxy_ = std::make_unique<ServiceProxy>(client(), ns(), "rotor", "adoption", *runner_, cluster_.fake() == nullptr);
  }

  kube::Client& client() { return cluster_.client(); }
  const std::string& ns() { return cluster_.ns(); }

  int rotor(std::vector<std::string> args) {
    args.insert(args.begin(), {rotorBinary(), "--kubeconfig", kubeconfig_, "-n", ns()});
    ChildProcess cli(args, dir_.path() / ("cli-" + std::to_string(++commands_) + ".log"));
    const int code = cli.wait(30s).value_or(-1);
    if (code != 0) ADD_FAILURE() << args[5] << " exited " << code << ":\n" << cli.output();
    return code;
  }

  /** Polls every 50 ms: the handovers it times last about a second. */
  static bool eventually(const std::function<bool()>& done, std::chrono::seconds within = 60s) {
    return rotor::testing::eventually(done, within, 50ms);
  }

  /** The pods labelled as the leader's. */
  std::vector<std::string> labelledLeaders() {
    std::vector<std::string> names;
    auto pods = client().list(kube::kPods, ns(), {.labelSelector = std::string(kube::kLeaderLabel) + "=true"});
    if (pods.ok()) {
      for (const json& pod : pods->items) names.push_back(pod["metadata"]["name"]);
    }
    return names;
  }
  /** The one leader pod, other than `former`, once the Service routes to it alone. */
  std::string leaderBehindService(const std::string& former = "") {
    std::string leader;
    eventually([&] {
      const std::vector<std::string> labelled = labelledLeaders();
      if (labelled.size() != 1 || labelled.front() == former || proxy_->endpoints().size() != 1) return false;
      leader = labelled.front();
      return true;
    });
    return leader;
  }

  std::string leaseHolder() {
    auto lease = client().get(kube::kLeases, ns(), "rotor-controller");
    return lease.ok() ? lease->value("/spec/holderIdentity"_json_pointer, std::string()) : "";
  }

  /** The check-in records the store holds (what a new leader loads). */
  std::map<std::string, int> persisted() {
    RealClock clock;
    store::kube::KubeStore store(client(), clock);
    std::map<std::string, int> versions;
    EXPECT_OK(store.visitAgents({ns(), "edge-proxy"}, [&](const store::AgentRecord& r) {
      EXPECT_FALSE(versions.contains(r.id)) << r.id << " is recorded twice";
      versions[r.id] = std::stoi(r.version);
    }));
    return versions;
  }

  std::string logs() {
    std::string out;
    for (const char* pod : {"ctl-a", "ctl-b", "ctl-c"}) out += "--- " + std::string(pod) + "\n" + runner_->output(pod);
    return out;
  }

  TestCluster cluster_;
  TempDir dir_;
  std::string kubeconfig_;
  std::unique_ptr<PodRunner> runner_;
  std::unique_ptr<ServiceProxy> proxy_;
  int commands_ = 0;
};

TEST_F(AdoptionFailoverTest, AgentsKeepCheckingInThroughOneServiceAcrossGracefulAndCrashFailovers) {
  ASSERT_OK(client().create(kube::kPods, ns(), controllerPod("ctl-a", ns())));
  ASSERT_OK(client().create(kube::kPods, ns(), controllerPod("ctl-b", ns())));
  const std::string tokenFile = (dir_.path() / "token").string();
  ASSERT_EQ(rotor({"token", "edge-proxy", "--file", tokenFile}), 0);
  std::ifstream in(tokenFile);
  std::string token;
  std::getline(in, token);

  // Both replicas become ready (a follower is ready to take over); only the leader is selected.
  ASSERT_TRUE(eventually([&] {
    auto pods = client().list(kube::kPods, ns(), {.labelSelector = "app=rotor"});
    return pods.ok() && std::count_if(pods->items.begin(), pods->items.end(), podReady) == 2;
  })) << logs();
  const std::string first = leaderBehindService();
  ASSERT_FALSE(first.empty()) << logs();
  if (!cluster_.fake()) {
    // On a real server the controller-manager computed the Service's endpoints from the label.
    ASSERT_EQ(proxy_->endpoints().size(), 1u);
  }

  Fleet fleet(proxy_->port(), ns(), token);
  ASSERT_TRUE(eventually([&] { return fleet.acknowledged().size() == kAgents; })) << logs();

  // 1. Graceful: the leader's pod is deleted (a drain, a rollout). Agents pause so that what was
  // acknowledged is known exactly when the pod goes; the next leader must serve all of it.
  fleet.stop();
  const std::map<std::string, int> beforeDelete = fleet.acknowledged();
  ASSERT_OK(client().remove(kube::kPods, ns(), first));
  const std::string second = leaderBehindService(first);
  ASSERT_FALSE(second.empty()) << logs();
  EXPECT_EQ(persisted(), beforeDelete) << "an acknowledged check-in was lost in a graceful handover";
  ASSERT_OK(client().create(kube::kPods, ns(), controllerPod("ctl-c", ns())));  // as the ReplicaSet would

  // 2. Crash: the new leader's process is killed; the kubelet restarts its container, which must
  // not keep the label, and the other replica takes over once the lease (3 s) expires.
  Fleet agents(proxy_->port(), ns(), token);
  ASSERT_TRUE(eventually([&] { return agents.acknowledged().size() == kAgents; })) << logs();
  ASSERT_TRUE(eventually([&] {
    auto pod = client().get(kube::kPods, ns(), "ctl-c");
    return pod.ok() && podReady(*pod);
  })) << logs();
  agents.resetGap();
  const std::string crashed = leaseHolder();
  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(runner_->signal(second, SIGKILL));
  // Either replica may win, the restarted container too; one pod is labelled, and served.
  ASSERT_TRUE(eventually([&] {
    const std::string holder = leaseHolder();
    return !holder.empty() && holder != crashed && labelledLeaders().size() == 1 && proxy_->endpoints().size() == 1;
  })) << logs();
  const auto takeover =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killedAt);
  std::this_thread::sleep_for(2s);  // every agent checks in again
  const auto crashGap = agents.longestGap();
  // Lease 3 s, checked every 500 ms, then the label and the endpoint update.
  EXPECT_LT(crashGap, 8s) << logs();

  // 3. Graceful with agents running: the time without an answer is the handover alone.
  const std::string third = leaderBehindService();
  agents.resetGap();
  ASSERT_OK(client().remove(kube::kPods, ns(), third));
  ASSERT_TRUE(eventually([&] {
    const std::vector<std::string> labelled = labelledLeaders();
    return labelled.size() == 1 && labelled.front() != third && proxy_->endpoints().size() == 1;
  })) << logs();  // the deleted pod's replica cannot win: it is gone
  std::this_thread::sleep_for(2s);
  const auto gracefulGap = agents.longestGap();
  EXPECT_LT(gracefulGap, 4s) << logs();

  // Last, every replica stops in order: what the API acknowledged is what the store holds, each
  // agent once.
  agents.stop();
  const std::map<std::string, int> acknowledged = agents.acknowledged();
  for (const std::string& pod : runner_->pods()) ASSERT_OK(client().remove(kube::kPods, ns(), pod));
  ASSERT_TRUE(eventually([&] { return runner_->pods().empty(); })) << logs();
  std::this_thread::sleep_for(500ms);
  const std::map<std::string, int> stored = persisted();
  EXPECT_EQ(stored.size(), static_cast<size_t>(kAgents));
  EXPECT_EQ(stored, acknowledged) << "an acknowledged check-in was lost";

  std::cout << "leader crash: takeover " << takeover.count() << " ms, longest time an agent went unanswered "
            << crashGap.count() << " ms (lease 3 s); graceful handover: " << gracefulGap.count()
            << " ms; refused check-ins " << agents.refusals() << ", forwarded connections " << proxy_->forwarded()
            << ", refused for want of an endpoint " << proxy_->refused() << "\n";
  EXPECT_THAT(logs(), ::testing::Not(::testing::HasSubstr("forbidden")));
}

}  // namespace
}  // namespace rotor::testing
