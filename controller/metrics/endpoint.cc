#include "controller/metrics/endpoint.h"

namespace rotor::metrics {
namespace {

http::HttpResponse text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}};
}

}  // namespace

http::HttpResponse handleOperationalRequest(ControllerMetrics& metrics, const HealthChecks& health,
                                            const http::HttpRequest& request) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path != "/metrics" && path != "/healthz" && path != "/readyz") {
    return text(404, "not found; try /metrics, /healthz or /readyz\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    http::HttpResponse r = text(405, request.method + " is not allowed here\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  http::HttpResponse r;
  if (path == "/metrics") {
    r = {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render(), {}};
  } else if (path == "/healthz") {
    r = health.live && !health.live() ? text(503, "the controller loop has stalled\n") : text(200, "ok\n");
  } else {
    r = health.ready && !health.ready() ? text(503, "not ready: the first sync has not finished\n") : text(200, "ok\n");
  }
  if (request.method == "HEAD") r.body.clear();
  return r;
}

StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::start(ControllerMetrics& metrics, HealthChecks health,
                                                                  http::ServerOptions options, Logger& log) {
  options.plainHttp = true;
  std::unique_ptr<MetricsEndpoint> e(new MetricsEndpoint(metrics, std::move(health)));
  MetricsEndpoint* self = e.get();
  ASSIGN_OR_RETURN(e->server_, http::HttpServer::start(
                                   options,
                                   [self](const http::HttpRequest& r) {
                                     return handleOperationalRequest(self->metrics_, self->health_, r);
                                   },
                                   log));
  log.info("Serving metrics and health", {{"address", options.host + ":" + std::to_string(e->server_->port())}});
  return e;
}

}  // namespace rotor::metrics
