#include "controller/api/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace rotor::api {
namespace {

using rotor::testing::StatusIs;
using ::testing::HasSubstr;

CertificateRotation valid() {
  CertificateRotation r;
  r.metadata.name = "proxy";
  r.spec.certificate.commonName = "proxy.example.com";
  r.spec.certificate.dnsNames = {"proxy.example.com", "*.proxy.example.com"};
  r.spec.certificate.ipAddresses = {"10.0.0.1", "2001:db8::1"};
  r.spec.servers.push_back({.name = "a", .certFile = "a.crt", .keyFile = "a.key"});
  r.spec.ca.generate = CaGenerateSpec{"Root", std::chrono::hours(24 * 365 * 5), {}};
  r.spec.trustBundle.file = "bundle.pem";
  return r;
}

struct Case {
  std::string name;
  std::function<void(CertificateRotation&)> mutate;
  Mode mode;
  std::string wantMessage;
};

class ValidateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateTest, NamesFieldAndReason) {
  CertificateRotation r = valid();
  GetParam().mutate(r);
  EXPECT_THAT(validateRotation(r, GetParam().mode),
              StatusIs(Code::kInvalidArgument, HasSubstr(GetParam().wantMessage)));
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ValidateTest,
    ::testing::ValuesIn(std::vector<Case>{
        {"bad_name", [](auto& r) { r.metadata.name = "Proxy_1"; }, Mode::kAny, "metadata.name: must be a DNS-1123"},
        {"bad_dns", [](auto& r) { r.spec.certificate.dnsNames = {"bad name"}; }, Mode::kAny,
         "spec.certificate.dnsNames[0]"},
        {"bad_ip", [](auto& r) { r.spec.certificate.ipAddresses = {"1.2.3"}; }, Mode::kAny,
         "spec.certificate.ipAddresses[0]"},
        {"renew_after_validity", [](auto& r) { r.spec.certificate.renewBefore = std::chrono::hours(24 * 100); },
         Mode::kAny, "spec.certificate.renewBefore: must be shorter than validity"},
        {"two_ca_sources",
         [](auto& r) {
           r.spec.ca.files = CaFilesSpec{"ca.crt", "ca.key"};
         },
         Mode::kAny, "spec.ca: must set exactly one of generate, secretRef, files; got 2"},
        {"no_ca_source", [](auto& r) { r.spec.ca.generate.reset(); }, Mode::kAny, "got 0"},
        {"no_servers", [](auto& r) { r.spec.servers.clear(); }, Mode::kAny, "spec.servers: needs at least one server"},
        {"duplicate_server", [](auto& r) { r.spec.servers.push_back(r.spec.servers[0]); }, Mode::kAny,
         "spec.servers[1].name: duplicate"},
        {"local_needs_files", [](auto& r) { r.spec.servers[0].keyFile.clear(); }, Mode::kLocal,
         "spec.servers[0].keyFile: is required in local mode"},
        {"kube_needs_secret", [](auto&) {}, Mode::kKubernetes,
         "spec.servers[0].secretName: is required in Kubernetes mode"},
        {"bundle_in_a_configmap_and_a_secret",
         [](auto& r) {
           r.spec.trustBundle.configMapName = "ca";
           r.spec.trustBundle.secretName = "ca";
         },
         Mode::kAny, "spec.trustBundle: takes configMapName or secretName, not both"},
        {"bundle_secret_in_local_mode", [](auto& r) { r.spec.trustBundle.secretName = "ca"; }, Mode::kLocal,
         "spec.trustBundle.secretName: is for Kubernetes mode only"},
        {"kube_needs_a_bundle_object", [](auto&) {}, Mode::kKubernetes,
         "spec.trustBundle: needs configMapName or secretName in Kubernetes mode"},
        {"truststore_in_local_mode", [](auto& r) { r.spec.trustBundle.truststore = TruststoreSpec{}; }, Mode::kLocal,
         "spec.trustBundle.truststore: is for Kubernetes mode only"},
        {"cluster_trust_bundle_in_local_mode",
         [](auto& r) { r.spec.trustBundle.clusterTrustBundle = ClusterTrustBundleSpec{.name = "edge-ca"}; },
         Mode::kLocal, "spec.trustBundle.clusterTrustBundle: is for Kubernetes mode only"},
        {"cluster_trust_bundle_colon_without_signer",
         [](auto& r) { r.spec.trustBundle.clusterTrustBundle = ClusterTrustBundleSpec{.name = "edge:ca"}; }, Mode::kAny,
         "spec.trustBundle.clusterTrustBundle.name: must be a DNS subdomain without ':' (no signerName)"},
        {"cluster_trust_bundle_name_without_the_signer_prefix",
         [](auto& r) {
           r.spec.trustBundle.clusterTrustBundle =
               ClusterTrustBundleSpec{.name = "edge-ca", .signerName = "example.com/edge"};
         },
         Mode::kAny, "spec.trustBundle.clusterTrustBundle.name: must be \"example.com:edge:\" and a DNS subdomain"},
        {"cluster_trust_bundle_signer_without_a_dotted_domain",
         [](auto& r) {
           r.spec.trustBundle.clusterTrustBundle = ClusterTrustBundleSpec{.name = "edge:ca:x", .signerName = "edge/ca"};
         },
         Mode::kAny, "spec.trustBundle.clusterTrustBundle.signerName: must be a domain and a path"},
        {"cluster_trust_bundle_bad_label",
         [](auto& r) {
           r.spec.trustBundle.clusterTrustBundle = ClusterTrustBundleSpec{.name = "edge-ca", .labels = {{"a", "b c"}}};
         },
         Mode::kAny, "spec.trustBundle.clusterTrustBundle.labels.a: \"b c\" is not a label value"},
        {"truststore_key_is_the_pem_key",
         [](auto& r) { r.spec.trustBundle.truststore = TruststoreSpec{.key = "ca.crt"}; }, Mode::kAny,
         "spec.trustBundle.truststore.key: must differ from spec.trustBundle.key"},
        {"pods_in_local_mode", [](auto& r) { r.spec.adoption.pods = ConsumerPodsSpec{}; }, Mode::kLocal,
         "spec.adoption.pods: is for Kubernetes mode only"},
        {"bad_cron",
         [](auto& r) {
           r.spec.swap.maintenanceWindow = MaintenanceWindowSpec{"0 25 * * *", std::chrono::hours(1), "UTC"};
         },
         Mode::kAny, "spec.swap.maintenanceWindow.schedule: hour: 25 is outside 0-23"},
        {"bad_zone",
         [](auto& r) {
           r.spec.swap.maintenanceWindow = MaintenanceWindowSpec{"@daily", std::chrono::hours(1), "Mars/Olympus"};
         },
         Mode::kAny, "spec.swap.maintenanceWindow.timeZone: unknown time zone"},
        {"bad_health_address",
         [](auto& r) {
           r.spec.servers[0].healthCheck = HealthCheckSpec{"localhost", ""};
         },
         Mode::kAny, "spec.servers[0].healthCheck.address: must be host:port"},
        {"bad_restart_kind",
         [](auto& r) {
           r.spec.servers[0].restart = RestartSpec{"Pod", "x"};
         },
         Mode::kAny, "spec.servers[0].restart.kind: must be one of Deployment, StatefulSet, DaemonSet"},
        {"backup_absolute", [](auto& r) { r.spec.backup.directory = "/var/backups/{date}-{time}"; }, Mode::kLocal,
         "spec.backup.directory: must be relative to the directory of the file it backs up"},
        {"backup_unknown_placeholder", [](auto& r) { r.spec.backup.directory = "certs-{date}-{time}-{host}"; },
         Mode::kLocal, "spec.backup.directory: knows only {date}, {time} and {dirname}"},
        {"backup_without_time", [](auto& r) { r.spec.backup.directory = "certs-{date}"; }, Mode::kLocal,
         "spec.backup.directory: needs {date} and {time}"},
        {"backup_in_kubernetes",
         [](auto& r) {
           r.spec.servers[0].secretName = "tls";
           r.spec.trustBundle.configMapName = "ca";
           r.spec.backup.directory = "certs-{date}-{time}";
         },
         Mode::kKubernetes, "spec.backup.directory: is for local mode only"},
    }),
    [](const auto& tc) { return tc.param.name; });

TEST(ValidateTest, AcceptsAValidRotationAndRealTimeZones) {
  CertificateRotation r = valid();
  r.spec.swap.maintenanceWindow = MaintenanceWindowSpec{"0 2 * * 1-5", std::chrono::hours(2), "Europe/Paris"};
  EXPECT_OK(validateRotation(r, Mode::kLocal));
  EXPECT_TRUE(timeZoneExists("America/New_York"));
  EXPECT_FALSE(timeZoneExists("../etc/passwd"));
}

TEST(ValidateTest, AcceptsClusterTrustBundlesTheApiServerAccepts) {
  CertificateRotation r = valid();
  r.spec.trustBundle = {.configMapName = "edge-ca"};
  r.spec.servers = {{.name = "a", .secretName = "a-tls"}};
  for (const ClusterTrustBundleSpec& ctb :
       {ClusterTrustBundleSpec{.name = "edge-ca"},
        ClusterTrustBundleSpec{.name = "example.com:edge:edge-ca", .signerName = "example.com/edge"},
        ClusterTrustBundleSpec{.name = "rotor.example.org:mesh.v1:a.b",
        .signerName = "rotor.example.org/mesh.v1",
        .labels = {{"rotor.dev/bundle", "edge"}}}}) {
    r.spec.trustBundle.clusterTrustBundle = ctb;
    EXPECT_OK(validateRotation(r, Mode::kKubernetes)) << ctb.name;
  }
}

TEST(ValidateTest, ReportsEveryProblemAtOnce) {
  CertificateRotation r = valid();
  r.metadata.name = "";
  r.spec.servers.clear();
  Status s = validateRotation(r);
  EXPECT_THAT(s.message(), HasSubstr("metadata.name"));
  EXPECT_THAT(s.message(), HasSubstr("spec.servers"));
}

}  // namespace
}  // namespace rotor::api
