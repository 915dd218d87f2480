#include "controller/cli/commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/cli_runner.h"
#include "tests/support/temp_dir.h"

namespace rotor::cli {
namespace {

using ::testing::HasSubstr;

rotor::testing::CliResult rotor(std::vector<std::string> args, const std::string& stdinText = "") {
  return rotor::testing::runCli("rotor", std::move(args), stdinText);
}

std::string localNginxExample() { return rotor::testing::readSourceFile("examples/local-nginx.yaml"); }

class CliTest : public ::testing::Test {
protected:
  rotor::testing::TempDir dir;
  std::string local = dir.path().string();
};

TEST_F(CliTest, AnAgentWithAnUnusableServerCaStopsAtStartNamingTheFile) {
  // Before, a --server-ca that OpenSSL could not load was ignored, and the agent went on with an
  // empty trust store: every request then failed verification, far from the cause.
  const std::string token = dir.write("agent.token", "t0k3n\n").string();
  const std::string notPem = dir.write("api-ca.crt", "this is not a certificate\n").string();
  auto r = rotor({"agent", "--server", "https://127.0.0.1:1", "--rotation", "edge/proxy", "--id", "a", "--token-file",
                  token, "--trust-store", (dir.path() / "trust.pem").string(), "--server-ca", notPem, "--once"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("api-ca.crt"));
  EXPECT_THAT(r.err, HasSubstr("certificate authority"));
}

TEST_F(CliTest, GlobalFlagsWithValuesMayComeBeforeTheVerb) {
  // The verb is found after every global flag that takes a value, as the flag table says.
  auto r = rotor({"--local", local, "-n", "default", "--namespace", "default", "get"});
  EXPECT_EQ(r.code, 0) << r.err;
  auto cluster = rotor({"--kubeconfig", (dir.path() / "absent").string(), "--context", "get", "get"});
  EXPECT_THAT(cluster.err, ::testing::Not(HasSubstr("unknown command")));
}

TEST_F(CliTest, ApplyGetAndDelete) {
  auto applied = rotor({"--local", local, "apply", "-f", "-"}, localNginxExample());
  ASSERT_EQ(applied.code, 0) << applied.err;
  EXPECT_EQ(applied.out, "certificaterotation.rotor.dev/edge-proxy created\n");
  EXPECT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).out,
            "certificaterotation.rotor.dev/edge-proxy unchanged\n");

  auto table = rotor({"get", "--local", local});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("edge-proxy"));
  EXPECT_THAT(table.out, HasSubstr("Pending"));

  auto yaml = rotor({"--local", local, "get", "edge-proxy", "-o", "yaml"});
  ASSERT_EQ(yaml.code, 0);
  EXPECT_THAT(yaml.out, HasSubstr("kind: CertificateRotation"));
  EXPECT_THAT(yaml.out, HasSubstr("generation: 1"));
  auto json = rotor({"--local", local, "get", "-o", "json"});
  EXPECT_THAT(json.out, HasSubstr("\"kind\": \"List\""));

  EXPECT_EQ(rotor({"--local", local, "delete", "edge-proxy"}).code, 0);
  auto missing = rotor({"--local", local, "get", "edge-proxy"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("error: CertificateRotation default/edge-proxy not found"));
}

TEST_F(CliTest, OneInvalidDocumentAppliesNothingAndLeavesTheDirectoryByteForByteUnchanged) {
  ASSERT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).code, 0);
  const auto before = rotor::testing::snapshotTree(dir.path());
  std::string second = localNginxExample();
  second.replace(second.find("name: edge-proxy"), 16, "name: second");
  second.replace(second.find("threshold: 100"), 14, "threshold: 500");
  std::string changedFirst = localNginxExample();
  changedFirst.replace(changedFirst.find("threshold: 100"), 14, "threshold: 90");
  auto path = dir.write("../bad-" + dir.path().filename().string() + ".yaml", changedFirst + "---\n" + second);
  auto result = rotor({"--local", local, "apply", "-f", path.string()});
  std::filesystem::remove(path);
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err,
              HasSubstr("document 2 (default/second): spec.adoption.threshold: must be between 1 and 100, got 500"));
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(rotor::testing::snapshotTree(dir.path()), before);
}

TEST_F(CliTest, LocalModeFieldsAreRequiredBeforeAnythingIsWritten) {
  std::string kube = localNginxExample();
  kube.replace(kube.find("      certFile: certs/server.crt\n"), 33, "");
  auto result = rotor({"--local", local, "apply", "-f", "-"}, kube);
  EXPECT_EQ(result.code, 1);
  EXPECT_THAT(result.err, HasSubstr("spec.servers[0].certFile: is required in local mode"));
}

TEST_F(CliTest, ControllerOnceBootstrapsFilesThatOpensslVerifies) {
  ASSERT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).code, 0);
  auto pass = rotor({"controller", "--local", local, "--once"});
  ASSERT_EQ(pass.code, 0) << pass.err;
  EXPECT_THAT(pass.err, HasSubstr("rotation=default/edge-proxy event=Normal reason=Issued phase=Ready revision=1"));
  // A real TLS client's view: the served certificate verifies against the bundle file.
  std::string out;
  EXPECT_EQ(rotor::testing::runShell("openssl verify -purpose sslserver -CAfile " + local + "/trust/ca-bundle.pem " +
                                         local + "/certs/server.crt",
                                     &out),
            0)
      << out;
  EXPECT_EQ(rotor::testing::runShell("openssl pkey -check -noout -in " + local + "/certs/server.key", &out), 0) << out;
  EXPECT_THAT(rotor({"--local", local, "get"}).out, HasSubstr("Ready"));
  const std::string status = rotor({"--local", local, "status", "edge-proxy"}).out;
  EXPECT_THAT(status,
              HasSubstr("adoption            next rotation waits for 100% of active agents (agents seen within"));
  EXPECT_THAT(status, ::testing::Not(HasSubstr("at least 0")));  // an unset minAgents asks for nothing
  EXPECT_THAT(rotor({"--local", local, "plan", "edge-proxy"}).out, ::testing::Not(HasSubstr("at least 0")));
  // Nothing left to do on a second pass.
  EXPECT_THAT(rotor({"controller", "--local", local, "--once"}).err, ::testing::Not(HasSubstr("reason=")));
}

TEST_F(CliTest, RotateRightAfterResumeDoesNotWaitForTheControllerToSeeTheResume) {
  ASSERT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).code, 0);
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);
  ASSERT_EQ(rotor({"--local", local, "pause", "edge-proxy"}).code, 0);
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);  // status: Paused
  ASSERT_THAT(rotor({"--local", local, "get"}).out, HasSubstr("Paused"));
  ASSERT_EQ(rotor({"--local", local, "resume", "edge-proxy"}).code, 0);
  // The status still says Paused, but the rotation resumes to Ready: a rotation may be asked for.
  auto rotated = rotor({"--local", local, "rotate", "edge-proxy"});
  EXPECT_EQ(rotated.code, 0) << rotated.err;
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);  // Ready, then the rotation waits
  // Paused in flight and resumed: still in flight, under the phase it resumes to.
  ASSERT_EQ(rotor({"--local", local, "pause", "edge-proxy"}).code, 0);
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);
  ASSERT_EQ(rotor({"--local", local, "resume", "edge-proxy"}).code, 0);
  EXPECT_THAT(rotor({"--local", local, "rotate", "edge-proxy"}).err,
              HasSubstr("already in flight (phase AwaitingAdoption)"));
}

TEST_F(CliTest, ImpossibleRequestsAreRefusedClearlyAndChangeNothing) {
  ASSERT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).code, 0);
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);
  const std::string before = rotor({"--local", local, "get", "edge-proxy", "-o", "json"}).out;
  auto missing = rotor({"--local", local, "rollback", "edge-proxy", "--to", "edge-proxy-r9-swap"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("has no snapshot \"edge-proxy-r9-swap\""));
  EXPECT_THAT(rotor({"--local", local, "rollback", "edge-proxy"}).err, HasSubstr("has no snapshots"));
  EXPECT_EQ(rotor({"--local", local, "get", "edge-proxy", "-o", "json"}).out, before);
  ASSERT_EQ(rotor({"--local", local, "pause", "edge-proxy"}).code, 0);
  auto whilePaused = rotor({"--local", local, "rotate", "edge-proxy"});
  EXPECT_EQ(whilePaused.code, 1);
  EXPECT_THAT(whilePaused.err, HasSubstr("is paused; resume it first"));
  ASSERT_EQ(rotor({"--local", local, "resume", "edge-proxy"}).code, 0);
  EXPECT_THAT(rotor({"--local", local, "resume", "edge-proxy"}).err, HasSubstr("is not paused"));
  ASSERT_EQ(rotor({"--local", local, "rotate", "edge-proxy"}).code, 0);
  // Not taken up yet: a second request of either kind would fold into it.
  for (auto again : {rotor({"--local", local, "rotate", "edge-proxy"}),
                     rotor({"--local", local, "rotate", "edge-proxy", "--renew"})}) {
    EXPECT_EQ(again.code, 1);
    EXPECT_THAT(again.err, HasSubstr("was already requested (rotor.dev/rotate="));
    EXPECT_THAT(again.err, HasSubstr("and has not started yet"));
  }
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);  // Staging -> AwaitingAdoption, waits
  auto second = rotor({"--local", local, "rotate", "edge-proxy"});
  EXPECT_EQ(second.code, 1);
  EXPECT_THAT(second.err, HasSubstr("already in flight (phase AwaitingAdoption)"));
  auto status = rotor({"--local", local, "status", "edge-proxy"});
  EXPECT_THAT(status.out, HasSubstr("adoption            WAITING: Waiting for adoption.minStageDuration"));
  EXPECT_THAT(status.out, HasSubstr("Staging"));
  EXPECT_THAT(rotor({"--local", local, "plan", "edge-proxy"}).out, HasSubstr("A rotation is in flight"));
}

TEST_F(CliTest, AbandonAndARollbackBeforeAnySnapshotTakeTheStagedCaBackOut) {
  ASSERT_EQ(rotor({"--local", local, "apply", "-f", "-"}, localNginxExample()).code, 0);
  ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);
  const std::string bundle = dir.read("trust/ca-bundle.pem");
  auto atRest = rotor({"--local", local, "abandon", "edge-proxy"});
  EXPECT_EQ(atRest.code, 1);
  EXPECT_THAT(atRest.err, HasSubstr("cannot be abandoned: it is Ready"));
  for (const char* verb : {"abandon", "rollback"}) {
    ASSERT_EQ(rotor({"--local", local, "rotate", "edge-proxy"}).code, 0);
    ASSERT_EQ(rotor({"controller", "--local", local, "--once"}).code, 0);  // staged, awaiting adoption
    ASSERT_NE(dir.read("trust/ca-bundle.pem"), bundle) << verb;
    auto asked = rotor({"--local", local, verb, "edge-proxy"});
    ASSERT_EQ(asked.code, 0) << asked.err;
    EXPECT_THAT(asked.out, HasSubstr("abandon requested")) << verb;
    auto pass = rotor({"controller", "--local", local, "--once"});
    EXPECT_THAT(pass.err, HasSubstr("reason=Abandoned phase=Ready revision=1")) << verb;
    EXPECT_EQ(dir.read("trust/ca-bundle.pem"), bundle) << verb;
  }
}

TEST_F(CliTest, UsageErrorsExitTwoWithHelp) {
  auto noVerb = rotor({});
  EXPECT_EQ(noVerb.code, 2);
  EXPECT_THAT(noVerb.err, HasSubstr("Commands:"));
  auto unknown = rotor({"frobnicate"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command \"frobnicate\""));
  auto badFlag = rotor({"get", "--bogus"});
  EXPECT_EQ(badFlag.code, 2);
  EXPECT_THAT(badFlag.err, HasSubstr("unknown flag --bogus"));
  EXPECT_EQ(rotor({"apply", "--local", local}).code, 2);
  EXPECT_EQ(rotor({"get", "-o", "xml", "--local", local}).code, 2);
  auto timeoutAlone = rotor({"controller", "--local", local, "--adoption-request-timeout", "3s"});
  EXPECT_EQ(timeoutAlone.code, 2);
  EXPECT_THAT(timeoutAlone.err, HasSubstr("--adoption-request-timeout needs --adoption-addr"));
  auto noTimeout = rotor({"controller", "--local", local, "--adoption-addr", "127.0.0.1:0", "--adoption-insecure",
                          "--adoption-request-timeout", "0s"});
  EXPECT_EQ(noTimeout.code, 2);
  EXPECT_THAT(noTimeout.err, HasSubstr("--adoption-request-timeout must be a duration"));
  // The reporter sidecar: its file, its pod, nothing of the agent's.
  EXPECT_THAT(rotor({"agent", "--report-pod"}).err, HasSubstr("agent --report-pod needs --trust-store"));
  auto mixed = rotor({"agent", "--report-pod", "--trust-store", "ca.crt", "--server", "https://rotor:8444"});
  EXPECT_EQ(mixed.code, 2);
  EXPECT_THAT(mixed.err, HasSubstr("agent --report-pod takes no --server"));
  auto badPod = rotor({"agent", "--report-pod", "--trust-store", "ca.crt", "--pod", "just-a-name"});
  EXPECT_EQ(badPod.code, 2);
  EXPECT_THAT(badPod.err, HasSubstr("--pod must be NS/NAME"));
  auto noCluster = rotor({"agent", "--report-pod", "--trust-store", "ca.crt", "--pod", "shop/web-1", "--local", local});
  EXPECT_EQ(noCluster.code, 2);
  EXPECT_THAT(noCluster.err, HasSubstr("needs a cluster"));
}

TEST_F(CliTest, EveryVerbHasHelp) {
  for (const char* verb : {"apply", "get", "delete", "controller", "status", "plan", "rotate", "pause", "resume",
                           "rollback", "abandon", "approve", "snapshots", "version"}) {
    auto help = rotor({verb, "--help"});
    EXPECT_EQ(help.code, 0) << verb;
    EXPECT_THAT(help.out, HasSubstr("Usage: rotor " + std::string(verb))) << verb;
  }
}

TEST_F(CliTest, MissingStateDirectoryIsAClearError) {
  unsetenv("ROTOR_LOCAL_DIR");
  auto r = rotor({"get"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--local DIR (or set ROTOR_LOCAL_DIR)"));
  EXPECT_THAT(r.err, HasSubstr("--kubeconfig FILE or --in-cluster"));
  auto missing = rotor({"get", "--local", local + "/nope"});
  EXPECT_THAT(missing.err, HasSubstr("does not exist (create it first: mkdir -m 0700 "));
}

}  // namespace
}  // namespace rotor::cli
