#pragma once

// The API server a Kubernetes-mode benchmark runs against: the fake over HTTPS on 127.0.0.1, or a
// real one when ROTOR_BENCH_KUBECONFIG names an admin's kubeconfig (then in a namespace of its
// own, removed at the end). Header-only: each benchmark is one translation unit.

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "controller/api/json_codec.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/transport.h"
#include "reconcilers/context.h"
#include "tests/support/fake_cluster.h"

namespace rotor::bench {

using json = nlohmann::json;

/** The prober of a benchmark whose rotations serve nothing: bootstrap and paused rotations probe
 *  no server. */
class NoProbes final : public reconcilers::Prober {
public:
  Status probe(const api::HealthCheckSpec&, const std::string&, const std::string&) override {
    return unavailable("the benchmark's rotations have no servers to probe");
  }
};

/** Counts requests (by method) and the bytes of their bodies both ways. */
class CountingTransport final : public kube::Transport {
public:
  explicit CountingTransport(kube::Transport& inner) : inner_(inner) {}
  StatusOr<kube::ApiResponse> send(const kube::ApiRequest& request) override {
    auto response = inner_.send(request);
    std::lock_guard lock(mu_);
    ++requests;
    ++byMethod[request.method];
    bytes += request.body.size() + (response.ok() ? response->body.size() : 0);
    return response;
  }
  StatusOr<kube::ApiResponse> stream(const kube::ApiRequest& request,
                                     const std::function<bool(std::string_view)>& onLine,
                                     std::stop_token stop) override {
    return inner_.stream(
        request,
        [&](std::string_view line) {
          streamedBytes += line.size();
          return onLine(line);
        },
        stop);
  }
  uint64_t requests = 0, bytes = 0;
  /** Bytes of watch events received. */
  std::atomic<uint64_t> streamedBytes{0};
  std::map<std::string, uint64_t> byMethod;

private:
  std::mutex mu_;
  kube::Transport& inner_;
};

/** The API server under test: the fake over HTTPS, or the real one ROTOR_BENCH_KUBECONFIG names. */
class BenchCluster {
public:
  BenchCluster() {
    const char* real = std::getenv("ROTOR_BENCH_KUBECONFIG");
    if (real == nullptr || *real == '\0') {
      fake_.emplace();
      fake_->installRotor(ns);
      kubeconfig_ = fake_->writeKubeconfig();
      return;
    }
    kubeconfig_ = real;
    transport_ = std::move(kube::makeHttpsTransport(kube::loadKubeconfig(kubeconfig_).value())).value();
    client_.emplace(*transport_);
    ns = "rotor-bench-" + std::to_string(getpid());
    const json crd = rotor::testing::shippedRotationCrd();
    auto applied = client_->create(rotor::testing::kCustomResourceDefinitions, "", crd);
    if (applied.status().code() == Code::kAlreadyExists) {
      json existing =
          client_->get(rotor::testing::kCustomResourceDefinitions, "", crd["metadata"]["name"].get<std::string>())
              .value();
      existing["spec"] = crd["spec"];
      applied = client_->update(rotor::testing::kCustomResourceDefinitions, "", existing);
    }
    must(applied.status(), "rotor's CRD");
    must(
        client_
            ->create(kube::kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}})
            .status(),
        "namespace " + ns);
    for (int i = 0; i < 100 && !client_->list(kube::kRotations, ns).ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~BenchCluster() {
    if (client_) (void)client_->remove(kube::kNamespaces, "", ns);
  }
  kube::Client& client() { return fake_ ? fake_->client() : *client_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  bool real() const { return !fake_; }
  std::string ns = "bench";

private:
  static void must(const Status& s, const std::string& what) {
    if (s.ok()) return;
    std::fprintf(stderr, "%s: %s\n", what.c_str(), s.message().c_str());
    std::exit(1);
  }
  std::optional<rotor::testing::FakeCluster> fake_;
  std::unique_ptr<kube::Transport> transport_;
  std::optional<kube::Client> client_;
  std::string kubeconfig_;
};

/** Rotation `i` (svc-0000i), paused: the controller lists, watches and reconciles it without issuing. */
inline json pausedRotation(int i, const std::string& ns) {
  char name[32];
  std::snprintf(name, sizeof name, "svc-%05d", i);
  api::CertificateRotation r;
  r.metadata.name = name;
  r.metadata.ns = ns;
  r.spec.paused = true;
  r.spec.certificate.commonName = std::string(name) + ".example.test";
  r.spec.certificate.dnsNames = {r.spec.certificate.commonName};
  r.spec.servers.push_back({.name = "main", .secretName = std::string(name) + "-tls"});
  r.spec.ca.generate = api::CaGenerateSpec{std::string(name) + " CA", std::chrono::hours(24 * 365), {}};
  r.spec.trustBundle.configMapName = std::string(name) + "-bundle";
  json object = api::encodeRotation(r, false);
  return object;
}

}  // namespace rotor::bench
