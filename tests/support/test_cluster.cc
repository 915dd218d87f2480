#include "tests/support/test_cluster.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>


namespace rotor::testing {
namespace {

std::string uniqueNamespace() {
  static std::mt19937 random{std::random_device{}()};
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string suffix;
  for (int i = 0; i < 6; ++i) suffix += kAlphabet[random() % (sizeof kAlphabet - 1)];
  return "rotor-contract-" + suffix;
}

/** Applies rotor's CRD as shipped (created, or the server's copy replaced by it, so that a real
 *  server never tests an older schema), and waits until the server serves it. */
void ensureCrd(kube::Client& client, const std::string& ns) {
  const nlohmann::json shipped = shippedRotationCrd();
  auto created = client.create(kCustomResourceDefinitions, "", shipped);
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    auto existing = client.get(kCustomResourceDefinitions, "", shipped["metadata"]["name"].get<std::string>());
    ASSERT_TRUE(existing.ok()) << existing.status();
    (*existing)["spec"] = shipped["spec"];
    (*existing)["metadata"]["labels"] = shipped["metadata"]["labels"];
    created = client.update(kCustomResourceDefinitions, "", *existing);
  }
  ASSERT_TRUE(created.ok()) << "the API server refused rotor's CRD: " << created.status();
  for (int i = 0; i < 100; ++i) {
    if (client.list(kube::kRotations, ns).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL() << "the API server does not serve certificaterotations.rotor.dev";
}

}  // namespace

TestCluster::TestCluster() : ns_(uniqueNamespace()) {
  if (const char* path = std::getenv("ROTOR_TEST_KUBECONFIG"); path != nullptr && *path != '\0') {
    auto loaded = kube::loadKubeconfig(path);
    if (!loaded.ok()) throw std::runtime_error("ROTOR_TEST_KUBECONFIG: " + loaded.status().message());
    config_ = *loaded;
  } else {
    fake_ = std::make_unique<FakeCluster>();
    config_ = fake_->config();
  }
  auto transport = kube::makeHttpsTransport(config_);
  if (!transport.ok()) throw std::runtime_error("cluster under test: " + transport.status().message());
  transport_ = std::move(transport).value();
  client_ = std::make_unique<kube::Client>(*transport_);
  auto created = client_->create(kube::kNamespaces, "",
                                 {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns_}}}});
  if (!created.ok()) throw std::runtime_error("cannot create namespace " + ns_ + ": " + created.status().message());
  ensureCrd(*client_, ns_);
}

TestCluster::~TestCluster() {
  // A real server removes everything in it; the fake goes away whole.
  if (!fake_) (void)client_->remove(kube::kNamespaces, "", ns_);
}

}  // namespace rotor::testing
