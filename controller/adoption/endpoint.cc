#include "controller/adoption/endpoint.h"

namespace rotor::adoption {

StatusOr<std::unique_ptr<AdoptionEndpoint>> AdoptionEndpoint::start(store::Store& store, const Clock& clock,
                                                                    Logger& log, const EndpointOptions& options,
                                                                    AgentRegistry::OnChange onChange) {
  std::unique_ptr<AdoptionEndpoint> e(new AdoptionEndpoint(store, clock, log, options));
  const auto began = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(e->registry_.loadAll().withContext("could not load the agent registry"));
  const auto loadedIn = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
  e->registry_.setOnChange(std::move(onChange));
  AdoptionEndpoint* self = e.get();
  auto handle = [self, &log, took = options.checkInTook](const http::HttpRequest& r) {
    const auto start = std::chrono::steady_clock::now();
    http::HttpResponse response = self->service_.handle(r);
    if (took && r.method == "PUT") took(std::chrono::steady_clock::now() - start);
    if (log.enabled(LogLevel::kDebug)) {
      // The path names the rotation and the agent; headers (the token) are never logged.
      log.debug("Adoption API request", {{"method", r.method},
                                         {"path", r.target.substr(0, r.target.find('?'))},
                                         {"status", std::to_string(response.status)}});
    }
    return response;
  };
  ASSIGN_OR_RETURN(e->server_, http::HttpServer::start(options.server, std::move(handle), log));
  e->flusher_ =
      std::jthread([self, interval = options.flushInterval](std::stop_token stop) { self->flushLoop(stop, interval); });
  log.info("Serving the adoption API", {{"address", options.server.host + ":" + std::to_string(e->server_->port())},
                                        {"tls", options.server.plainHttp              ? "off"
                                                : options.server.clientCaFile.empty() ? "on"
                                                                                      : "mutual"},
                                        {"agents", std::to_string(e->registry_.agentCount())},
                                        {"registryLoadedIn", formatDuration(loadedIn)}});
  return e;
}

AdoptionEndpoint::~AdoptionEndpoint() {
  server_.reset();
  flusher_ = {};  // joins
  if (Status s = registry_.flush(AgentRegistry::Persist::kEverything); !s.ok())
    log_.error("Could not persist the last check-ins", {{"error", s.message()}});
}

void AdoptionEndpoint::flushLoop(std::stop_token stop, std::chrono::milliseconds interval) {
  // Once stopped, the destructor flushes one last time.
  while (sleepUnlessStopped(stop, interval)) {
    if (Status s = registry_.flush(); !s.ok()) {
      log_.warn("Could not persist check-ins; will retry", {{"error", s.message()}});
    }
  }
}

}  // namespace rotor::adoption
