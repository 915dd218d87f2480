#include "controller/kube/kubeconfig.h"

#include <gtest/gtest.h>

#include "controller/pki/base64.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::kube {
namespace {

using rotor::testing::StatusIs;

const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nMIIBCA==\n-----END CERTIFICATE-----\n";
const std::string kKeyPem = "-----BEGIN PRIVATE KEY-----\nMIIBKEY=\n-----END PRIVATE KEY-----\n";

TEST(Base64Test, RoundTripsAndRefusesWhatIsNotBase64) {
  for (std::string bytes :
       {std::string(), std::string("A"), std::string("AB"), std::string("ABC"), std::string("\0\xff\x10 binary", 10)}) {
    EXPECT_EQ(*pki::base64Decode(pki::base64Encode(bytes)), bytes);
  }
  EXPECT_EQ(pki::base64Encode("rotor"), "cm90b3I=");
  EXPECT_EQ(*pki::base64Decode("cm90\nb3I=\n"), "rotor");
  EXPECT_THAT(pki::base64Decode("cm90b3I"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(pki::base64Decode("cm9*b3I="), StatusIs(Code::kInvalidArgument));
}

class KubeconfigTest : public ::testing::Test {
protected:
  std::filesystem::path write(const std::string& yaml) { return dir.write("kubeconfig", yaml); }
  rotor::testing::TempDir dir;
};

TEST_F(KubeconfigTest, ReadsTheCurrentContextWithInlineDataAndItsNamespace) {
  const auto path = write(R"(apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: prod-cluster
    cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: )" +
                          pki::base64Encode(kCaPem) + R"(}
  - name: other
    cluster: {server: "https://other:6443"}
users:
  - name: rotor
    user: {client-certificate-data: )" +
                          pki::base64Encode(kCaPem) + ", client-key-data: " + pki::base64Encode(kKeyPem) + R"(}
contexts:
  - name: prod
    context: {cluster: prod-cluster, user: rotor, namespace: rotor-system}
  - name: dev
    context: {cluster: other, user: rotor}
)");
  auto c = loadKubeconfig(path);
  ASSERT_OK(c.status());
  EXPECT_EQ(c->server, "https://10.0.0.1:6443");
  EXPECT_EQ(c->caPem, kCaPem);
  EXPECT_EQ(c->clientCertPem, kCaPem);
  EXPECT_EQ(c->clientKeyPem, kKeyPem);
  EXPECT_EQ(c->ns, "rotor-system");
  auto dev = loadKubeconfig(path, "dev");
  ASSERT_OK(dev.status());
  EXPECT_EQ(dev->server, "https://other:6443");
  EXPECT_EQ(dev->ns, "default");
  EXPECT_TRUE(dev->caPem.empty());
}

TEST_F(KubeconfigTest, FilesAreRelativeToTheKubeconfigAndTokenFilesAreReadAtUse) {
  dir.write("pki/ca.crt", kCaPem);
  dir.write("token", "first\n");
  const auto path = write(R"(current-context: c
clusters: [{name: k, cluster: {server: "https://k:443", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {tokenFile: token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  auto c = loadKubeconfig(path);
  ASSERT_OK(c.status());
  EXPECT_EQ(c->caPem, kCaPem);
  EXPECT_EQ(*c->bearerToken(), "first");
  dir.write("token", "rotated");
  EXPECT_EQ(*c->bearerToken(), "rotated");
}

TEST_F(KubeconfigTest, ProblemsAreNamedWithoutEchoingSecrets) {
  const std::string header = "clusters: [{name: k, cluster: {server: \"https://k:443\"}}]\n";
  EXPECT_THAT(loadKubeconfig(write(header + "contexts: []\n")), StatusIs(Code::kInvalidArgument));  // no context
  EXPECT_THAT(loadKubeconfig(write(header + "current-context: x\ncontexts: []\n")), StatusIs(Code::kNotFound));
  EXPECT_THAT(loadKubeconfig(write(header + "current-context: c\ncontexts: [{name: c, context: {cluster: nope}}]\n")),
              StatusIs(Code::kNotFound));
  auto exec = loadKubeconfig(write(header + R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {exec: {command: aws}}}]
)"));
  EXPECT_THAT(exec, StatusIs(Code::kInvalidArgument));
  EXPECT_NE(exec.status().message().find("exec plugin"), std::string::npos);
  auto badData = loadKubeconfig(write(header + R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
users: [{name: u, user: {token: s3cr3t-t0ken, client-certificate-data: "***", client-key-data: "***"}}]
)"));
  EXPECT_THAT(badData, StatusIs(Code::kInvalidArgument));
  EXPECT_EQ(badData.status().message().find("s3cr3t"), std::string::npos);
  EXPECT_THAT(loadKubeconfig(write("{{{")), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(loadKubeconfig(dir.path() / "absent"), StatusIs(Code::kFailedPrecondition));
}

TEST_F(KubeconfigTest, InClusterReadsTheServiceAccount) {
  dir.write("sa/token", "sa-token\n");
  dir.write("sa/ca.crt", kCaPem);
  dir.write("sa/namespace", "rotor-system");
  auto c = inClusterConfig({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}},
                           dir.path() / "sa");
  ASSERT_OK(c.status());
  EXPECT_EQ(c->server, "https://10.96.0.1:443");
  EXPECT_EQ(*c->bearerToken(), "sa-token");
  EXPECT_EQ(c->ns, "rotor-system");
  EXPECT_EQ(c->caPem, kCaPem);
  auto v6 =
      inClusterConfig({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, dir.path() / "sa");
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
  EXPECT_THAT(inClusterConfig({}, dir.path() / "sa"), StatusIs(Code::kFailedPrecondition));
}

}  // namespace
}  // namespace rotor::kube
