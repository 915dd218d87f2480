#include "tests/support/service_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>

#include "controller/common/clock.h"
#include "controller/kube/leader_pod_label.h"

namespace rotor::testing {

using nlohmann::json;

namespace {

constexpr kube::ResourceType kServices{"", "v1", "services", "Service"};
constexpr kube::ResourceType kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"};

int listenOnLoopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    ::close(fd);
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

int connectToLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

ServiceProxy::ServiceProxy(kube::Client& client, std::string ns, std::string service, std::string portName,
                           const PodRunner& runner, bool fromSlices)
    : client_(client),
      ns_(std::move(ns)),
      service_(std::move(service)),
      portName_(std::move(portName)),
      runner_(runner),
      fromSlices_(fromSlices) {
  listener_ = listenOnLoopback(port_);
  resolver_ = std::jthread([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::vector<Endpoint> found = resolve();
      {
        std::lock_guard lock(mu_);
        endpoints_ = std::move(found);
      }
      sleepUnlessStopped(stop, std::chrono::milliseconds(100));
    }
  });
  acceptor_ = std::jthread([this](std::stop_token stop) { accept(stop); });
}

ServiceProxy::~ServiceProxy() {
  acceptor_ = {};
  resolver_ = {};
  connections_.clear();  // each stops and joins
  if (listener_ >= 0) ::close(listener_);
}

std::vector<Endpoint> ServiceProxy::endpoints() const {
  std::lock_guard lock(mu_);
  return endpoints_;
}

std::vector<Endpoint> ServiceProxy::resolve() const {
  try {
    return fromSlices_ ? fromEndpointSlices() : fromSelector();
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "ServiceProxy: an object is not as Kubernetes writes it: " << e.what() << "\n";
    return {};
  }
}

std::vector<Endpoint> ServiceProxy::fromEndpointSlices() const {
  std::vector<Endpoint> out;
  auto slices = client_.list(kEndpointSlices, ns_, {.labelSelector = "kubernetes.io/service-name=" + service_});
  if (!slices.ok()) return out;
  for (const json& slice : slices->items) {
    int port = 0;
    for (const json& p : slice.value("ports", json::array())) {
      if (p.value("name", "") == portName_) port = p.value("port", 0);
    }
    if (port == 0) continue;
    for (const json& e : slice.value("endpoints", json::array())) {
      if (!e.value("/conditions/ready"_json_pointer, false)) continue;
      for (const json& address : e.value("addresses", json::array())) out.push_back({address.get<std::string>(), port});
    }
  }
  return out;
}

std::vector<Endpoint> ServiceProxy::fromSelector() const {
  std::vector<Endpoint> out;
  auto service = client_.get(kServices, ns_, service_);
  if (!service.ok()) return out;
  std::string selector, targetPort;
  const json labels = service->value("/spec/selector"_json_pointer, json::object());
  for (const auto& [key, value] : labels.items()) {
    selector += (selector.empty() ? "" : ",") + key + "=" + value.get<std::string>();
  }
  for (const json& p : service->value("/spec/ports"_json_pointer, json::array())) {
    if (p.value("name", "") == portName_)
      targetPort = p["targetPort"].is_string() ? p["targetPort"].get<std::string>() : "";
  }
  auto pods = client_.list(kube::kPods, ns_, {.labelSelector = selector});
  if (!pods.ok()) return out;
  for (const json& pod : pods->items) {
    const std::string ip = pod.value("/status/podIP"_json_pointer, std::string());
    if (!podReady(pod) || ip.empty() || pod["metadata"].contains("deletionTimestamp")) continue;
    for (const json& p : pod.value("/spec/containers/0/ports"_json_pointer, json::array())) {
      if (p.value("name", "") == targetPort) out.push_back({ip, p["containerPort"].get<int>()});
    }
  }
  return out;
}

void ServiceProxy::accept(std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, 100) <= 0) continue;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::optional<Endpoint> chosen;
    {
      std::lock_guard lock(mu_);
      if (!endpoints_.empty()) chosen = endpoints_[next_++ % endpoints_.size()];
    }
    const uint16_t local = chosen ? runner_.localPort(chosen->ip, chosen->port) : 0;
    const int backend = local != 0 ? connectToLoopback(local) : -1;
    if (backend < 0) {
      ++refused_;
      ::close(client);
      continue;
    }
    ++forwarded_;
    connections_.emplace_back([client, backend](std::stop_token s) { pump(s, client, backend); });
  }
}

void ServiceProxy::pump(std::stop_token stop, int client, int backend) {
  pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
  char buffer[16384];
  while (!stop.stop_requested()) {
    if (::poll(fds, 2, 100) <= 0) continue;
    bool closed = false;
    for (int i = 0; i < 2 && !closed; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      closed = n <= 0 || ::send(fds[1 - i].fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n;
    }
    if (closed) break;
  }
  ::close(client);
  ::close(backend);
}

}  // namespace rotor::testing
