// The CLI against a cluster (the fake API server over HTTPS): the same verbs as in local mode,
// with --kubeconfig, and as the kubectl plugin with kubectl's configuration.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "controller/cli/commands.h"
#include "controller/kube/client.h"
#include "tests/support/child_process.h"
#include "tests/support/cli_runner.h"
#include "tests/support/fake_cluster.h"

namespace rotor::cli {
namespace {

using ::testing::HasSubstr;

using Result = rotor::testing::CliResult;
using rotor::testing::runCli;

std::string edgeProxyExample() { return rotor::testing::readSourceFile("examples/kubernetes/edge-proxy.yaml"); }

class ClusterCliTest : public ::testing::Test {
protected:
  void SetUp() override {
    cluster_.installRotor("edge");
    kubeconfig_ = cluster_.writeKubeconfig().string();
  }
  Result rotor(std::vector<std::string> args, const std::string& stdinText = "") {
    args.insert(args.begin(), {"--kubeconfig", kubeconfig_});
    return runCli("rotor", std::move(args), stdinText);
  }
  nlohmann::json get(const kube::ResourceType& type, const std::string& name) {
    return cluster_.client().get(type, "edge", name).value();
  }

  rotor::testing::FakeCluster cluster_;
  std::string kubeconfig_;
};

TEST_F(ClusterCliTest, ApplyBootstrapRotateAndInspect) {
  auto applied = rotor({"apply", "-f", "-"}, edgeProxyExample());
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_EQ(applied.out, "certificaterotation.rotor.dev/edge-proxy created\n");
  EXPECT_EQ(rotor({"apply", "-f", "-"}, edgeProxyExample()).out,
            "certificaterotation.rotor.dev/edge-proxy unchanged\n");

  // Local-mode manifests are refused before anything is written.
  auto local = rotor({"apply", "-f", (rotor::testing::sourceDir() / "examples/local-nginx.yaml").string()});
  EXPECT_EQ(local.code, 1);
  EXPECT_THAT(local.err, HasSubstr("secretName"));

  auto once = rotor({"controller", "--once"});
  ASSERT_EQ(once.code, 0) << once.err;
  const nlohmann::json secret = get(kube::kSecrets, "edge-proxy-tls");
  EXPECT_EQ(secret["type"], "kubernetes.io/tls");
  EXPECT_TRUE(secret["data"].contains("tls.crt") && secret["data"].contains("tls.key"));
  EXPECT_THAT(get(kube::kConfigMaps, "edge-proxy-ca")["data"]["ca.crt"].get<std::string>(),
              HasSubstr("BEGIN CERTIFICATE"));

  auto table = rotor({"get", "-n", "edge"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("edge-proxy"));
  EXPECT_THAT(table.out, HasSubstr("Ready"));

  ASSERT_EQ(rotor({"rotate", "edge-proxy", "-n", "edge"}).code, 0);
  EXPECT_TRUE(get(kube::kRotations, "edge-proxy")["metadata"]["annotations"].contains("rotor.dev/rotate"));
  ASSERT_EQ(rotor({"pause", "edge-proxy", "-n", "edge"}).code, 0);
  ASSERT_EQ(rotor({"resume", "edge-proxy", "-n", "edge"}).code, 0);

  auto token = rotor({"token", "edge-proxy", "-n", "edge"});
  ASSERT_EQ(token.code, 0) << token.err;
  EXPECT_EQ(get(kube::kSecrets, "edge-proxy-rotor-agent-tokens")["type"], "Opaque");
  auto status = rotor({"status", "edge-proxy", "-n", "edge"});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("edge-proxy"));
  EXPECT_EQ(rotor({"agents", "edge-proxy", "-n", "edge"}).code, 0);
  EXPECT_EQ(rotor({"snapshots", "edge-proxy", "-n", "edge"}).code, 0);

  auto missing = rotor({"status", "nope", "-n", "edge"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("\"nope\" not found"));
}

TEST_F(ClusterCliTest, CheckSaysWhatWorksAndFailsWhenTheControllerDoesNotAnswer) {
  ASSERT_EQ(rotor({"apply", "-f", "-"}, edgeProxyExample()).code, 0);
  auto served = rotor({"check", "-n", "edge"});
  EXPECT_EQ(served.code, 0) << served.err;
  EXPECT_EQ(served.out, "ok    rotations are served: 1 visible in edge\n");
  // Nothing listens on the port: both HTTP checks fail, and so does the command.
  const int closed = rotor::testing::freeLoopbackPort();
  auto down = rotor({"check", "-A", "--url", "http://127.0.0.1:" + std::to_string(closed)});
  EXPECT_EQ(down.code, 1);
  EXPECT_THAT(down.out, HasSubstr("ok    rotations are served: 1 visible\n"));
  EXPECT_THAT(down.out, HasSubstr("FAIL  the controller is ready: GET http://127.0.0.1:"));
  EXPECT_THAT(down.out, HasSubstr("FAIL  metrics answer"));
}

TEST_F(ClusterCliTest, SpecWritesRetryOnConflictFromAFreshRead) {
  // The controller writes status all the time; a verb that loses that race reads again and
  // retries, as kubectl does, instead of failing with a conflict.
  ASSERT_EQ(rotor({"apply", "-f", "-"}, edgeProxyExample()).code, 0);
  ASSERT_EQ(rotor({"controller", "--once"}).code, 0);
  cluster_.api().failNextWrites(3);
  auto paused = rotor({"pause", "edge-proxy", "-n", "edge"});
  EXPECT_EQ(paused.code, 0) << paused.err;
  EXPECT_EQ(cluster_.api().conflictsLeft(), 0);
  EXPECT_TRUE(get(kube::kRotations, "edge-proxy")["spec"]["paused"].get<bool>());
  cluster_.api().failNextWrites(3);
  auto resumed = rotor({"resume", "edge-proxy", "-n", "edge"});
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  // A conflict that never ends is still reported, not retried for ever.
  cluster_.api().failNextWrites(1000);
  auto refused = rotor({"pause", "edge-proxy", "-n", "edge"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("has been modified"));
  cluster_.api().failNextWrites(0);
}

TEST_F(ClusterCliTest, AsAKubectlPluginItUsesKubectlsConfiguration) {
  setenv("KUBECONFIG", kubeconfig_.c_str(), 1);
  setenv("ROTOR_LOCAL_DIR", "/nonexistent", 1);  // the plugin ignores local mode's default
  ASSERT_EQ(rotor({"apply", "-f", "-"}, edgeProxyExample()).code, 0);
  auto listed = runCli("/usr/local/bin/kubectl-rotor", {"get", "-n", "edge"});
  unsetenv("KUBECONFIG");
  unsetenv("ROTOR_LOCAL_DIR");
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("edge-proxy"));
}

TEST_F(ClusterCliTest, ACredentialTheClusterRefusesIsAClearError) {
  const std::string badConfig = cluster_.writeKubeconfig("not-a-token").string();
  auto refused = runCli("rotor", {"--kubeconfig", badConfig, "get"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("Unauthorized"));
  EXPECT_THAT(refused.err, ::testing::Not(HasSubstr("not-a-token")));
}

}  // namespace
}  // namespace rotor::cli
