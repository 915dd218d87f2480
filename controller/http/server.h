#pragma once

// The adoption API's HTTP(S) server (Boost.Beast; docs/design.md says why not cpprestsdk's
// listener). It knows nothing of rotations: it reads bounded requests, calls the handler and
// writes the response. Every wait is bounded: TLS handshake, idle keep-alive, header, body and
// write each have a timeout (enforced within a tenth of the shortest one), and connections
// beyond the cap are closed at once.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "controller/common/log.h"
#include "controller/common/status.h"
#include "controller/http/http.h"

namespace rotor::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see HttpServer::port)
  /** Serve plain HTTP: only when asked, e.g. behind a TLS-terminating proxy. */
  bool plainHttp = false;
  std::string certFile;  // PEM chain, leaf first; re-read when it changes
  std::string keyFile;
  /** When set, client certificates are requested and verified against this CA; a verified
   *  certificate's common name becomes HttpRequest::clientIdentity. */
  std::string clientCaFile;

  size_t maxConnections = 10000;
  std::chrono::milliseconds handshakeTimeout = std::chrono::seconds(10);
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(60);
  std::chrono::milliseconds headerTimeout = std::chrono::seconds(10);
  std::chrono::milliseconds bodyTimeout = std::chrono::seconds(10);
  std::chrono::milliseconds writeTimeout = std::chrono::seconds(10);
  size_t maxHeaderBytes = 8 * 1024;
  size_t maxBodyBytes = 16 * 1024;
  /** Worker threads, each with its own connections. */
  int threads = 2;
  /** How often the certificate files are checked for a change. */
  std::chrono::milliseconds certificateCheckInterval = std::chrono::seconds(5);
};

class HttpServer {
public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  /** Binds and starts serving. kInvalidArgument for unusable certificate files or address,
   *  kUnavailable when the port cannot be bound. */
  static StatusOr<std::unique_ptr<HttpServer>> start(const ServerOptions& options, Handler handler, Logger& log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  /** Re-reads the certificate and key now. New connections get the new certificate; open ones
   *  keep the one they shook hands with. On error the old one stays in use. */
  Status reloadCertificate();
  size_t openConnections() const;
  uint64_t rejectedConnections() const;

  class Impl;

private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rotor::http
