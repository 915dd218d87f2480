#pragma once

// The controller's operational HTTP endpoint: GET /metrics (Prometheus text format), /healthz
// (the controller loop is alive) and /readyz (the first full sync is done). Served by the same
// hardened server as the adoption API, in plain HTTP: it carries no secrets, and Prometheus and
// the kubelet's probes reach it inside the cluster.

#include <functional>
#include <memory>

#include "controller/http/http.h"
#include "controller/http/server.h"
#include "controller/metrics/metrics.h"

namespace rotor::metrics {

struct HealthChecks {
  /** /healthz: false when the controller loop has stopped going round. */
  std::function<bool()> live;
  /** /readyz: false until every rotation has been listed once (in kube mode: every watched kind). */
  std::function<bool()> ready;
};

/** Answers one request to the operational endpoint (no sockets: tested directly). */
http::HttpResponse handleOperationalRequest(ControllerMetrics& metrics, const HealthChecks& health,
                                            const http::HttpRequest& request);

class MetricsEndpoint {
public:
  /** Serves on options.host:options.port (0: any free port); options.plainHttp is forced on. */
  static StatusOr<std::unique_ptr<MetricsEndpoint>> start(ControllerMetrics& metrics, HealthChecks health,
                                                          http::ServerOptions options, Logger& log);
  uint16_t port() const { return server_->port(); }

private:
  MetricsEndpoint(ControllerMetrics& metrics, HealthChecks health) : metrics_(metrics), health_(std::move(health)) {}

  ControllerMetrics& metrics_;
  HealthChecks health_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace rotor::metrics
