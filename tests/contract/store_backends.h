#pragma once

// Every Store implementation the contract suites run against, and the fixture they share: the
// suites of tests/contract/*_store_contract_test.cc each prove one role (controller/store/*.h).
// The Kubernetes store joins with its fake API server, or a real one (ROTOR_TEST_KUBECONFIG).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/store/kube/kube_store.h"
#include "controller/store/local/local_store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/memory_store.h"
#include "tests/support/pki_fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace rotor::store::contract {

struct MemoryBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::MemoryStore store{clock};
  Store& get() { return store; }
};

struct LocalBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::TempDir dir;
  std::unique_ptr<local::LocalStore> store = std::move(local::LocalStore::open({.root = dir.path()}, clock)).value();
  Store& get() { return *store; }
};

/** The Kubernetes store against the fake API server over HTTPS, or against a real one when
 *  ROTOR_TEST_KUBECONFIG names it (in a namespace of its own). */
struct KubeBackend {
  rotor::testing::FakeClock clock;
  rotor::testing::TestCluster cluster;
  store::kube::KubeStore store{cluster.client(), clock, {.watchNamespace = cluster.ns()}};
  Store& get() { return store; }
  /** Servers present Secrets and the bundle is a ConfigMap here, not files. */
  void adapt(CertificateRotation& r) const {
    r.metadata.ns = cluster.ns();
    for (api::ServerSpec& s : r.spec.servers) {
      s = {.name = s.name, .secretName = r.metadata.name + "-" + s.name + "-tls"};
    }
    r.spec.trustBundle = {.configMapName = r.metadata.name + "-trust"};
  }
};

using Backends = ::testing::Types<MemoryBackend, LocalBackend, KubeBackend>;

/**
 * One role's suite: `rotations()` to create what the role works on, the role itself through the
 * accessor each suite adds. Reaching the whole Store from a suite is deliberately awkward.
 */
template <typename Backend>
class ContractTest : public ::testing::Test {
protected:
  Backend backend;
  RotationStore& rotations() { return backend.get(); }

  CertificateRotation desired(const std::string& name = "proxy") {
    CertificateRotation r;
    r.metadata.name = name;
    r.spec.certificate.commonName = "proxy.example.com";
    r.spec.servers.push_back({.name = "a", .certFile = "certs/a.crt", .keyFile = "certs/a.key"});
    r.spec.servers.push_back({.name = "b", .certFile = "certs-b/b.crt", .keyFile = "certs-b/b.key"});
    r.spec.ca.generate = api::CaGenerateSpec{"Root", std::chrono::hours(24 * 365), {}};
    r.spec.trustBundle.file = "trust/bundle.pem";
    if constexpr (requires { backend.adapt(r); }) backend.adapt(r);
    return r;
  }
  /** A stored rotation made from desired(name). */
  CertificateRotation stored(const std::string& name = "proxy") {
    return rotations().applyRotation(desired(name)).value();
  }

  static ServedMaterial material(const std::string& tag) {
    auto ca = rotor::testing::makeCa("Root " + tag);
    auto leaf = rotor::testing::issueLeaf(ca);
    return {leaf.certificate.toPem(), leaf.key.toPem(), ca.certificate().toPem()};
  }
};

}  // namespace rotor::store::contract
