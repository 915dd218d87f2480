// End to end in Kubernetes mode: the rotor binary as controller(s) and agents against the fake API
// server over HTTPS, through a full CA rotation with agents while the watch breaks and writes
// conflict, a rollback, and a leader failover.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <set>
#include <thread>

#include "controller/common/strings.h"
#include "controller/kube/client.h"
#include "controller/kube/kube_store.h"
#include "controller/pki/bundle.h"
#include "controller/pki/base64.h"
#include "tests/support/child_process.h"
#include "tests/support/fake_cluster.h"
#include "tests/support/status_matchers.h"

namespace rotor::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kNs[] = "edge";

const char* kRotation = R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: edge-proxy, namespace: edge}
spec:
  certificate: {commonName: edge-proxy.edge.svc, dnsNames: [edge-proxy.edge.svc]}
  servers:
    - name: proxy
      secretName: edge-proxy-tls
      restart: {kind: Deployment, name: edge-proxy}
  ca:
    generate: {commonName: Edge Proxy CA}
  trustBundle: {configMapName: edge-proxy-ca}
  adoption: {threshold: 100, minStageDuration: 1s}
  swap: {bakeTime: 1s, probe: {period: 1s, failureThreshold: 3}}
  prune: {after: 1s}
)";

class KubeModeTest : public ::testing::Test {
protected:
  void TearDown() override {
    // Nothing the controller asked for was refused: the documented rules are enough.
    EXPECT_THAT(cluster_.api().forbidden(), ::testing::IsEmpty());
  }

  void SetUp() override {
    cluster_.installRotor(kNs);
    cluster_.api().enforceOwnerReferencePermissions(true);  // as OpenShift does by default
    // The controller runs as a service account with only the documented rules; the CLI as admin.
    cluster_.api().addUser("controller-token", "system:serviceaccount:rotor:rotor-controller");
    ASSERT_GE(grantDocumentedRules(cluster_.api(), "system:serviceaccount:rotor:rotor-controller", "controller-rbac"), 5)
        << "docs/rbac.md lost its controller table";
    controllerKubeconfig_ = cluster_.writeKubeconfig("controller-token").string();
    kubeconfig_ = cluster_.writeKubeconfig().string();
    ASSERT_OK(client_->create(kube::kDeployments, kNs,
                              {{"apiVersion", "apps/v1"},
                               {"kind", "Deployment"},
                               {"metadata", {{"name", "edge-proxy"}}},
                               {"spec", {{"template", {{"metadata", {{"labels", {{"app", "edge-proxy"}}}}}}}}}}));
    ASSERT_EQ(rotor({"apply", "-f", dir_.write("rotation.yaml", kRotation).string()}), 0);
  }

  /** Runs the rotor CLI against the cluster to completion; its exit status. */
  int rotor(std::vector<std::string> args) {
    args.insert(args.begin(), {rotorBinary(), "--kubeconfig", kubeconfig_, "-n", kNs});
    ChildProcess cli(args, dir_.path() / "cli.log");
    const int code = cli.wait(std::chrono::seconds(30)).value_or(-1);
    if (code != 0) ADD_FAILURE() << "rotor " << args[5] << " exited " << code << ":\n" << cli.output();
    return code;
  }

  std::unique_ptr<ChildProcess> controller(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args = {rotorBinary(), "controller", "--kubeconfig", controllerKubeconfig_, "--log-level",
                                     "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(args, dir_.path() / (name + ".log"));
  }

  json rotation() { return client_->get(kube::kRotations, kNs, "edge-proxy").value(); }
  std::string phase() { return rotation().value("/status/phase"_json_pointer, std::string()); }
  int64_t revision() { return rotation().value("/status/revision"_json_pointer, int64_t{0}); }

  /** Polls `done` every 100 ms for up to `within`. */
  static bool eventually(const std::function<bool()>& done, std::chrono::seconds within = std::chrono::seconds(60)) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < until) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return done();
  }

  std::string secretValue(const std::string& name, const std::string& key) {
    const json secret = client_->get(kube::kSecrets, kNs, name).value();
    return pki::base64Decode(secret["data"][key].get<std::string>()).value();
  }
  std::string bundle() {
    return client_->get(kube::kConfigMaps, kNs, "edge-proxy-ca").value()["data"]["ca.crt"].get<std::string>();
  }
  std::string leaseHolder() {
    auto lease = client_->get(kube::kLeases, "default", "rotor-controller");
    return lease.ok() ? lease->value("/spec/holderIdentity"_json_pointer, std::string()) : "";
  }

  RealClock clock_;
  FakeCluster cluster_;
  TempDir dir_;
  std::string kubeconfig_, controllerKubeconfig_;
  kube::Client* client_ = &cluster_.client();
};

TEST_F(KubeModeTest, CaRotationWithAgentsThroughBrokenWatchesAndConflictStormsThenRollback) {
  const int adoptionPort = freeLoopbackPort();
  auto a = controller("controller", {"--adoption-addr", "127.0.0.1:" + std::to_string(adoptionPort), "--adoption-insecure"});
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << a->output();
  const std::string firstCa = bundle();

  // Two agents keep trust stores in step with the bundle and report what they trust.
  const std::string tokenFile = (dir_.path() / "token").string();
  ASSERT_EQ(rotor({"token", "edge-proxy", "--file", tokenFile}), 0);
  std::vector<std::unique_ptr<ChildProcess>> agents;
  for (const char* id : {"agent-1", "agent-2"}) {
    agents.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{rotorBinary(), "agent", "--server", "http://127.0.0.1:" + std::to_string(adoptionPort),
                                 "--rotation", "edge/edge-proxy", "--id", id, "--token-file", tokenFile, "--trust-store",
                                 (dir_.path() / (std::string(id) + ".pem")).string(), "--interval", "1s"},
        dir_.path() / (std::string(id) + ".log")));
  }
  const auto trustStore = [&](const std::string& id) {
    std::ifstream in(dir_.path() / (id + ".pem"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  ASSERT_TRUE(eventually([&] { return trustStore("agent-1") == firstCa && trustStore("agent-2") == firstCa; }))
      << a->output();

  ASSERT_EQ(rotor({"rotate", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "AwaitingAdoption" || revision() == 2; })) << a->output();
  // Mid-rotation: the watch breaks and its resourceVersion falls out of the server's window, and
  // the next writes all meet 409 Conflict.
  cluster_.api().expireWatches();
  cluster_.api().failNextWrites(20);
  ASSERT_TRUE(eventually([&] { return revision() == 2 && phase() == "Ready"; }, std::chrono::seconds(90)))
      << a->output();

  // The served chain is the new CA's and verifies against the bundle, which no longer holds the old CA.
  const std::string served = secretValue("edge-proxy-tls", "tls.crt");
  auto chain = pki::parsePemBundle(served);
  ASSERT_OK(chain);
  auto trusted = pki::parsePemBundle(bundle());
  ASSERT_OK(trusted);
  ASSERT_EQ(trusted->size(), 1u);
  EXPECT_NE(bundle(), firstCa);
  EXPECT_TRUE(chain->front().isSignedBy(trusted->front()));
  for (const char* id : {"agent-1", "agent-2"}) {
    EXPECT_TRUE(eventually([&] { return trustStore(id) == bundle(); }, std::chrono::seconds(10))) << id;
  }
  // The Deployment was restarted as kubectl rollout restart does, and the story is in Events.
  const json deployment = client_->get(kube::kDeployments, kNs, "edge-proxy").value();
  EXPECT_TRUE(deployment["spec"]["template"]["metadata"]["annotations"].contains(kube::kRestartedAtAnnotation));
  auto events = client_->list(kube::kEvents, kNs);
  ASSERT_OK(events);
  EXPECT_GE(events->items.size(), 5u);
  // The broken watch was listed again, and every conflict was met and retried.
  EXPECT_THAT(a->output(), HasSubstr("too old resource version"));
  EXPECT_EQ(cluster_.api().conflictsLeft(), 0);

  // Rollback to the latest snapshot puts its material back in the Secret.
  ASSERT_EQ(rotor({"rollback", "edge-proxy"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "RolledBack"; })) << a->output();
  kube::KubeStore store(*client_, clock_);
  auto decoded = store.getRotation({kNs, "edge-proxy"});
  ASSERT_OK(decoded);
  auto names = store.listSnapshots(*decoded);
  ASSERT_OK(names);
  ASSERT_FALSE(names->empty());
  auto snapshot = store.getSnapshot(*decoded, decoded->status.handled.rollbackTo);
  ASSERT_OK(snapshot);
  EXPECT_EQ(secretValue("edge-proxy-tls", "tls.crt"), snapshot->servers.at("proxy").certificateChainPem);

  // No key or token outside the Secrets meant for them: not in Events, the rotation's status, the
  // ConfigMaps, or anything the controller and agents logged.
  std::vector<std::string> secrets(1);
  std::ifstream token(tokenFile);
  std::getline(token, secrets.front());
  const kube::ObjectList allSecrets = client_->list(kube::kSecrets, kNs).value();
  for (const json& secret : allSecrets.items) {
    const json data = secret.value("data", json::object());
    for (const auto& [key, value] : data.items()) {
      const auto pem = pki::base64Decode(value.get<std::string>());
      if (!pem.ok() || pem->find("PRIVATE KEY-----") == std::string::npos) continue;
      std::istringstream lines(*pem);
      for (std::string line; std::getline(lines, line);) {
        const bool base64 = line.find_first_not_of(
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == std::string::npos;
        if (line.size() >= 32 && base64) secrets.push_back(line.substr(line.size() - 32));  // a key's PEM body
      }
    }
  }
  ASSERT_GE(secrets.size(), 10u) << "too few key lines found to scan for";
  std::string outputs = a->output() + rotation().dump() + json(client_->list(kube::kEvents, kNs).value().items).dump() +
                        json(client_->list(kube::kConfigMaps, kNs).value().items).dump();
  for (const auto& agent : agents) outputs += agent->output();
  EXPECT_EQ(outputs.find("PRIVATE KEY"), std::string::npos);
  for (const std::string& secret : secrets) EXPECT_EQ(outputs.find(secret), std::string::npos) << secret;
}

TEST_F(KubeModeTest, AFollowerTakesOverWithinTheLeaseWhenTheLeaderIsKilled) {
  const std::vector<std::string> election = {"--leader-elect", "--leader-election-namespace", "default",
                                             "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms"};
  auto first = controller("first", election);
  ASSERT_TRUE(eventually([&] { return !leaseHolder().empty(); })) << first->output();
  auto second = controller("second", election);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready"; })) << first->output();
  const std::string leader = leaseHolder();
  ASSERT_THAT(leader, HasSubstr("_" + std::to_string(first->pid())));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_THAT(second->output(), HasSubstr("Waiting to lead"));
  EXPECT_THAT(second->output(), ::testing::Not(HasSubstr("Started controller")));

  const auto killedAt = std::chrono::steady_clock::now();
  first->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return leaseHolder().find("_" + std::to_string(second->pid())) != std::string::npos; },
                         std::chrono::seconds(10)));
  const auto tookOver = std::chrono::steady_clock::now() - killedAt;
  // The follower waits out the lease from when it last saw it change, checking every retry period.
  EXPECT_LT(tookOver, std::chrono::milliseconds(3000 + 500 + 500)) << "took over after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(tookOver).count() << " ms";
  std::cout << "takeover after leader SIGKILL: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(tookOver).count() << " ms (lease 3 s)\n";

  // The new leader reconciles: a renewal requested now completes.
  const std::string before = secretValue("edge-proxy-tls", "tls.crt");
  ASSERT_EQ(rotor({"rotate", "edge-proxy", "--renew"}), 0);
  ASSERT_TRUE(eventually([&] { return phase() == "Ready" && secretValue("edge-proxy-tls", "tls.crt") != before; }))
      << second->output();
}

}  // namespace
}  // namespace rotor::testing
