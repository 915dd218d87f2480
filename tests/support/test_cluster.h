#pragma once

// The cluster a contract test runs against: a real API server when ROTOR_TEST_KUBECONFIG names
// a kubeconfig (its current context; the user needs rights on CRDs, namespaces, Secrets,
// ConfigMaps, Events and Leases), else the fake API server over HTTPS. Each instance works in a
// namespace of its own, created at start and deleted at the end.

#include <memory>
#include <string>

#include "controller/kube/client.h"
#include "tests/support/fake_cluster.h"

namespace rotor::testing {

class TestCluster {
public:
  TestCluster();
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  /** The fake behind it, for faults only a fake can cause; null against a real server. */
  FakeApiServer* fake() { return fake_ ? &fake_->api() : nullptr; }
  const kube::ClusterConfig& config() const { return config_; }
  kube::Client& client() { return *client_; }
  /** The namespace this instance owns. */
  const std::string& ns() const { return ns_; }

private:
  std::unique_ptr<FakeCluster> fake_;
  kube::ClusterConfig config_;
  std::unique_ptr<kube::Transport> transport_;
  std::unique_ptr<kube::Client> client_;
  std::string ns_;
};

}  // namespace rotor::testing
