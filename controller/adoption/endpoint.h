#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "controller/adoption/adoption_store.h"
#include "controller/adoption/registry.h"
#include "controller/adoption/service.h"
#include "controller/http/server.h"

namespace rotor::adoption {

struct EndpointOptions {
  http::ServerOptions server;
  ServiceOptions service;
  /** How often check-ins that changed something are persisted. A crash loses at most this much;
   *  agents repeat their reports every interval, and a lost report can only make the gate wait
   *  longer. */
  std::chrono::milliseconds flushInterval = std::chrono::seconds(1);
  RegistryOptions registry;
  /** Told how long each check-in (PUT) took to handle (metrics); may be empty. */
  std::function<void(std::chrono::nanoseconds)> checkInTook;
};

/**
 * Everything the controller runs to serve the adoption API: the registry (recovered from the
 * store at start), the handlers, the HTTPS server, and a thread that persists check-ins. The
 * reconcilers must use store(), so that the gate sees check-ins before they are persisted.
 */
class AdoptionEndpoint {
public:
  static StatusOr<std::unique_ptr<AdoptionEndpoint>> start(store::Store& store, const Clock& clock, Logger& log,
                                                           const EndpointOptions& options,
                                                           AgentRegistry::OnChange onChange);
  /** Stops serving, then persists what is left. */
  ~AdoptionEndpoint();

  store::Store& store() { return view_; }
  uint16_t port() const { return server_->port(); }
  AgentRegistry& registry() { return registry_; }
  AdoptionService& service() { return service_; }

private:
  AdoptionEndpoint(store::Store& store, const Clock& clock, Logger& log, const EndpointOptions& options)
      : log_(log),
        registry_(store, store, clock, options.registry),
        service_(store, store, store, registry_, clock, options.service),
        view_(store, registry_, service_) {}
  void flushLoop(std::stop_token stop, std::chrono::milliseconds interval);

  Logger& log_;
  AgentRegistry registry_;
  AdoptionService service_;
  AdoptionStore view_;
  std::unique_ptr<http::HttpServer> server_;
  std::jthread flusher_;
};

}  // namespace rotor::adoption
