#include "controller/http/server.h"

#include <sys/stat.h>

#include <algorithm>

#include "controller/http/server_impl.h"

namespace rotor::http {
namespace {

/** What identifies a version of a file cheaply: modification time and size. */
std::pair<int64_t, int64_t> fileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, st.st_size};
}

}  // namespace

HttpResponse HttpServer::Impl::handle(const HttpRequest& request) {
  try {
    return handler_(request);
  } catch (const std::exception& e) {
    log_.error("Adoption API handler failed", {{"error", e.what()}});
    return {
        500, "application/json", "{\"code\":500,\"reason\":\"InternalError\",\"message\":\"internal error\"}\n", {}};
  }
}

Status HttpServer::Impl::start() {
  if (!options_.plainHttp) {
    ASSIGN_OR_RETURN(ctx_, makeServerContext(options_));
    certStamp_ = fileStamp(options_.certFile);
    keyStamp_ = fileStamp(options_.keyFile);
  }
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (ec) return invalidArgument("adoption API address " + options_.host + " is not an IP address");
  for (int i = 0; i < std::max(1, options_.threads); ++i) workers_.push_back(std::make_unique<Worker>());
  asio::io_context& first = workers_.front()->ioc;
  acceptor_ = std::make_unique<tcp::acceptor>(first);
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  certTimer_ = std::make_unique<asio::steady_timer>(first);
  acceptRetry_ = std::make_unique<asio::steady_timer>(first);
  accept();
  if (!options_.plainHttp) scheduleCertificateCheck();
  for (auto& worker : workers_) {
    scheduleSweep(*worker);  // also keeps a worker without connections running until stop()
    threads_.emplace_back([ioc = &worker->ioc] { ioc->run(); });
  }
  return okStatus();
}

void HttpServer::Impl::stop() {
  if (workers_.empty()) return;
  for (auto& worker : workers_) {
    worker->gate->close();
    worker->ioc.stop();
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  certTimer_.reset();
  acceptRetry_.reset();
  acceptor_.reset();
  workers_.clear();
}

void HttpServer::Impl::accept() {
  // Connections go round-robin to the workers.
  Worker& worker = *workers_[nextWorker_++ % workers_.size()];
  acceptor_->async_accept(worker.ioc, [this, &worker](beast::error_code ec, tcp::socket socket) {
    onAccept(worker, ec, std::move(socket));
  });
}

void HttpServer::Impl::scheduleSweep(Worker& worker) {
  // A tenth of the shortest timeout: a connection overstays its deadline by at most that.
  const auto shortest = std::min({options_.handshakeTimeout, options_.idleTimeout, options_.headerTimeout,
                                  options_.bodyTimeout, options_.writeTimeout});
  worker.sweep.expires_after(
      std::clamp<std::chrono::milliseconds>(shortest / 10, std::chrono::milliseconds(10), std::chrono::seconds(1)));
  worker.sweep.async_wait([this, &worker](beast::error_code ec) {
    if (ec) return;
    const SteadyTime now = std::chrono::steady_clock::now();
    for (Deadlined* connection : worker.connections) {
      if (connection->deadline() <= now) connection->expire();
    }
    scheduleSweep(worker);
  });
}

void HttpServer::Impl::onAccept(Worker& worker, beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    // Usually out of file descriptors: wait a little instead of spinning on accept.
    acceptRetry_->expires_after(std::chrono::milliseconds(50));
    acceptRetry_->async_wait([this](beast::error_code e) {
      if (!e) accept();
    });
    return;
  }
  // Responses go out in one or more full writes; Nagle would hold a large body's last segment until
  // the client's delayed ACK (40 ms) instead of sending it.
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (open_.load() >= options_.maxConnections) {
    rejected_.fetch_add(1);
    socket.close(ignored);
  } else {
    startSession(*this, worker, std::move(socket), options_.plainHttp ? nullptr : context());
  }
  accept();
}

Status HttpServer::Impl::reloadCertificate() {
  if (options_.plainHttp) return failedPrecondition("the adoption API serves plain HTTP; there is no certificate");
  const auto certStamp = fileStamp(options_.certFile);
  const auto keyStamp = fileStamp(options_.keyFile);
  ASSIGN_OR_RETURN(std::shared_ptr<SslContext> fresh, makeServerContext(options_));
  std::lock_guard lock(ctxMu_);
  ctx_ = std::move(fresh);
  certStamp_ = certStamp;
  keyStamp_ = keyStamp;
  return okStatus();
}

void HttpServer::Impl::scheduleCertificateCheck() {
  certTimer_->expires_after(options_.certificateCheckInterval);
  certTimer_->async_wait([this](beast::error_code ec) {
    if (ec) return;
    bool changed = false;
    {
      std::lock_guard lock(ctxMu_);
      changed = fileStamp(options_.certFile) != certStamp_ || fileStamp(options_.keyFile) != keyStamp_;
    }
    if (changed) {
      // A certificate written before its key fails the key check; the next tick retries.
      if (Status s = reloadCertificate(); s.ok()) {
        log_.info("Reloaded the adoption API certificate", {{"certificate", options_.certFile}});
      } else {
        log_.warn("Keeping the adoption API certificate in use", {{"error", s.message()}});
      }
    }
    scheduleCertificateCheck();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

StatusOr<std::unique_ptr<HttpServer>> HttpServer::start(const ServerOptions& options, Handler handler, Logger& log) {
  auto impl = std::make_unique<Impl>(options, std::move(handler), log);
  RETURN_IF_ERROR(impl->start());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->port_; }
Status HttpServer::reloadCertificate() { return impl_->reloadCertificate(); }
size_t HttpServer::openConnections() const { return impl_->open_.load(); }
uint64_t HttpServer::rejectedConnections() const { return impl_->rejected_.load(); }

}  // namespace rotor::http
