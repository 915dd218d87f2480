#pragma once

// Plays kube-proxy for one port of one Service: a connection to a loopback port is forwarded to a
// ready endpoint of the Service, found as kube-proxy finds it: in the EndpointSlices the
// controller-manager keeps on a real server; on the fake, which has no controller-manager, from
// the Service's selector over ready pods, as the EndpointSlice controller computes them. With no
// ready endpoint a connection is closed at once, as kube-proxy rejects it. Endpoints (made-up pod
// IPs) are reached through PodRunner::localPort.

#include <atomic>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/kube/client.h"
#include "tests/support/pod_runner.h"

namespace rotor::testing {

struct Endpoint {
  std::string ip;
  int port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

class ServiceProxy {
public:
  /** `fromSlices`: read EndpointSlices (a real server) instead of computing them (the fake). */
  ServiceProxy(kube::Client& client, std::string ns, std::string service, std::string portName, const PodRunner& runner,
               bool fromSlices);
  ~ServiceProxy();
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  /** The loopback port clients connect to. */
  uint16_t port() const { return port_; }
  /** The ready endpoints as last resolved. */
  std::vector<Endpoint> endpoints() const;
  /** Connections forwarded, and refused for want of an endpoint. */
  int forwarded() const { return forwarded_.load(); }
  int refused() const { return refused_.load(); }

private:
  std::vector<Endpoint> resolve() const;
  std::vector<Endpoint> fromEndpointSlices() const;
  std::vector<Endpoint> fromSelector() const;
  void accept(std::stop_token stop);
  static void pump(std::stop_token stop, int client, int backend);

  kube::Client& client_;
  const std::string ns_, service_, portName_;
  const PodRunner& runner_;
  const bool fromSlices_;
  int listener_ = -1;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<Endpoint> endpoints_;
  size_t next_ = 0;  // round robin
  std::atomic<int> forwarded_{0}, refused_{0};
  std::list<std::jthread> connections_;
  std::jthread resolver_, acceptor_;  // last
};

}  // namespace rotor::testing
