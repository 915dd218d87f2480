#pragma once

// What the parts of the HTTP server share (server.cc: listening, workers, deadlines and the
// certificate; session.cc: one connection; tls_context.cc: the TLS context). Internal to
// controller/http, the only unit that includes Boost.Beast.

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/http/server.h"

namespace rotor::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SslContext = asio::ssl::context;

using SteadyTime = std::chrono::steady_clock::time_point;

/** What the deadline sweep needs of a connection. */
class Deadlined {
public:
  virtual ~Deadlined() = default;
  SteadyTime deadline() const { return deadline_; }
  /** Closes the socket: its pending operation ends and the connection goes with it. */
  virtual void expire() = 0;

protected:
  SteadyTime deadline_ = SteadyTime::max();
};

/** Posts to a worker from other threads (a body stream's source) until the worker stops. */
class PostGate {
public:
  explicit PostGate(asio::io_context& ioc) : ioc_(&ioc) {}
  void post(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    if (ioc_ != nullptr) asio::post(*ioc_, std::move(fn));
  }
  void close() {
    std::lock_guard lock(mu_);
    ioc_ = nullptr;
  }

private:
  std::mutex mu_;
  asio::io_context* ioc_;
};

/**
 * A thread with its own io_context and the connections on it. Timeouts are deadlines that a
 * connection stores (a clock read) and a periodic sweep enforces, instead of a timer re-armed on
 * every read and write: a request then costs no timer syscalls, and an idle connection no timer.
 */
struct Worker {
  std::list<Deadlined*> connections;  // touched only on this worker's thread
  asio::io_context ioc{1};            // destroyed before `connections`: its sessions unlist themselves
  asio::steady_timer sweep{ioc};
  // Sessions waiting on a body stream's source, which holds only weak references: owned here so
  // that they go before their io_context when the server stops.
  std::map<Deadlined*, std::shared_ptr<Deadlined>> awaitingSource;
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>(ioc);
};

class HttpServer::Impl {
public:
  Impl(ServerOptions options, Handler handler, Logger& log)
      : options_(std::move(options)), handler_(std::move(handler)), log_(log) {}
  ~Impl() { stop(); }

  Status start();
  void stop();
  Status reloadCertificate();
  std::shared_ptr<SslContext> context() {
    std::lock_guard lock(ctxMu_);
    return ctx_;
  }

  const ServerOptions& options() const { return options_; }
  HttpResponse handle(const HttpRequest& request);
  void sessionOpened() { open_.fetch_add(1); }
  void sessionClosed() { open_.fetch_sub(1); }

  uint16_t port_ = 0;
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> rejected_{0};

private:
  void accept();
  void onAccept(Worker& worker, beast::error_code ec, tcp::socket socket);
  void scheduleCertificateCheck();

  ServerOptions options_;
  Handler handler_;
  Logger& log_;
  std::mutex ctxMu_;
  std::shared_ptr<SslContext> ctx_;
  std::pair<int64_t, int64_t> certStamp_, keyStamp_;
  void scheduleSweep(Worker& worker);

  // One io_context per thread, so a connection (which stays on one) needs no strand and the
  // threads share no reactor. The acceptor and timers live on the first. Destroyed explicitly in
  // stop(): handlers (and the sessions they own) go with their io_context while everything above
  // is still alive.
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t nextWorker_ = 0;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> certTimer_, acceptRetry_;
  std::vector<std::thread> threads_;
};

/** The server's TLS context from the options' files (TLS 1.2 and later; client certificates asked
 *  for, not required, when a client CA is set). kInvalidArgument naming the file that is unusable. */
StatusOr<std::shared_ptr<SslContext>> makeServerContext(const ServerOptions& options);
/** The verified client certificate's common name, if any. */
std::optional<std::string> clientIdentityOf(SSL* ssl);

/** Serves one accepted connection on `worker`'s thread, in plain HTTP or (with `ctx`) TLS. */
void startSession(HttpServer::Impl& server, Worker& worker, tcp::socket socket, std::shared_ptr<SslContext> ctx);

}  // namespace rotor::http
