#include "controller/http/server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace rotor::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using SslContext = asio::ssl::context;

std::string opensslError() {
  const unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

/** The verified client certificate's common name, if any. */
std::optional<std::string> clientIdentityOf(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  const X509_NAME* subject = X509_get_subject_name(peer);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return std::nullopt;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                     static_cast<size_t>(ASN1_STRING_length(cn)));
}

StatusOr<std::shared_ptr<SslContext>> makeContext(const ServerOptions& o) {
  auto ctx = std::make_shared<SslContext>(SslContext::tls_server);
  SSL_CTX* raw = ctx->native_handle();
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  // Idle connections then hold no read/write buffers: thousands of them stay cheap.
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(raw, o.certFile.c_str()) != 1) {
    return invalidArgument("cannot use certificate " + o.certFile + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(raw, o.keyFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(raw) != 1) {
    return invalidArgument("cannot use key " + o.keyFile + " with " + o.certFile + ": " + opensslError());
  }
  if (!o.clientCaFile.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.clientCaFile.c_str());
    if (names == nullptr || SSL_CTX_load_verify_locations(raw, o.clientCaFile.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return invalidArgument("cannot use client CA " + o.clientCaFile + ": " + opensslError());
    }
    SSL_CTX_set_client_CA_list(raw, names);
    // Asked for, not required: agents may authenticate with a bearer token instead.
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

/** What identifies a version of a file cheaply: modification time and size. */
std::pair<int64_t, int64_t> fileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, st.st_size};
}

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

/**
 * A thread with its own io_context and the connections on it. Timeouts are deadlines that a
 * connection stores (a clock read) and a periodic sweep enforces, instead of a timer re-armed on
 * every read and write: a request then costs no timer syscalls, and an idle connection no timer.
 */
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

struct Worker {
  std::list<Deadlined*> connections;  // touched only on this worker's thread
  asio::io_context ioc{1};            // destroyed before `connections`: its sessions unlist themselves
  asio::steady_timer sweep{ioc};
  // Sessions waiting on a body stream's source, which holds only weak references: owned here so
  // that they go before their io_context when the server stops.
  std::map<Deadlined*, std::shared_ptr<Deadlined>> awaitingSource;
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>(ioc);
};

}  // namespace

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

namespace {

/** One connection: handshake (TLS), then requests until the client or a timeout ends it. */
template <typename Stream>
class Session final : public Deadlined, public std::enable_shared_from_this<Session<Stream>> {
public:
  Session(HttpServer::Impl& server, Worker& worker, Stream stream, std::shared_ptr<SslContext> ctx)
      : server_(server), worker_(worker), stream_(std::move(stream)), ctx_(std::move(ctx)) {
    server_.sessionOpened();
  }
  ~Session() override {
    if (body_) body_->cancel();
    if (listed_) worker_.connections.erase(*listed_);
    server_.sessionClosed();
  }

  /** Runs on the worker's thread. */
  void start() {
    listed_ = worker_.connections.insert(worker_.connections.end(), this);
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      awaitRequest();
    } else {
      expiresAfter(server_.options().handshakeTimeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) { self->onHandshake(ec); });
    }
  }

  void expire() override {
    beast::error_code ignored;
    lowest().close(ignored);
  }

private:
  tcp::socket& lowest() { return beast::get_lowest_layer(stream_); }
  void expiresAfter(std::chrono::milliseconds timeout) { deadline_ = std::chrono::steady_clock::now() + timeout; }

  void onHandshake(beast::error_code ec) {
    if (ec) return;  // half-open, timed out or not TLS: the socket closes with the session
    if constexpr (!std::is_same_v<Stream, tcp::socket>) identity_ = clientIdentityOf(stream_.native_handle());
    awaitRequest();
  }

  /** Waits, up to the idle timeout, for the first bytes of the next request. */
  void awaitRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options().maxHeaderBytes));
    parser_->body_limit(server_.options().maxBodyBytes);
    if (buffer_.size() > 0) return parseBuffered();
    expiresAfter(server_.options().idleTimeout);
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return;
      self->buffer_.commit(n);
      self->parseBuffered();
    });
  }

  /** Parses what has arrived; a request that came whole (the usual case) is answered without
   *  another asynchronous read, a partial one is read on under the header or body timeout. */
  void parseBuffered() {
    beast::error_code ec;
    while (!parser_->is_done() && buffer_.size() > 0) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return refuseOrDrop(ec);
      if (used == 0) break;
    }
    if (parser_->is_done()) return respond();
    if (parser_->is_header_done()) return readBody();
    readHeader();
  }

  void readHeader() {
    expiresAfter(server_.options().headerTimeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->refuseOrDrop(ec);
                               self->readBody();
                             });
  }

  void readBody() {
    expiresAfter(server_.options().bodyTimeout);
    bhttp::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->refuseOrDrop(ec);
      self->respond();
    });
  }

  void respond() {
    bhttp::request<bhttp::string_body>& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    request.authorization = std::string(req[bhttp::field::authorization]);
    request.ifNoneMatch = std::string(req[bhttp::field::if_none_match]);
    request.contentType = std::string(req[bhttp::field::content_type]);
    request.userAgent = std::string(req[bhttp::field::user_agent]);
    request.body = std::move(req.body());
    request.clientIdentity = identity_;
    write(server_.handle(request), req.keep_alive());
  }

  /** A request over a limit or one that is not HTTP gets its status before the connection
   *  closes; a timeout, a reset or a client that went away just ends it. Content-Length beyond
   *  the body limit is caught while the header is parsed, before any of the body is read. */
  void refuseOrDrop(beast::error_code ec) {
    if (ec == bhttp::error::header_limit) return fail(431, "RequestTooLarge", "request header too large");
    if (ec == bhttp::error::body_limit) return fail(413, "RequestTooLarge", "request body too large");
    const bool clientLeft = ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message;
    if (ec.category() == beast::error_code(bhttp::error::bad_target).category() && !clientLeft) {
      return fail(400, "BadRequest", "malformed HTTP request");
    }
  }

  void fail(int status, std::string_view reason, std::string_view message) {
    lingerOnClose_ = true;
    write({status,
           "application/json",
           "{\"code\":" + std::to_string(status) + ",\"reason\":\"" + std::string(reason) + "\",\"message\":\"" +
               std::string(message) + "\"}\n",
           {}},
          false);
  }

  void write(HttpResponse out, bool keepAlive) {
    if (out.stream) return writeStreamed(std::move(out), keepAlive);
    // One response in flight per connection: reuse its header storage.
    response_.clear();
    response_.result(static_cast<bhttp::status>(out.status));
    response_.version(11);
    response_.set(bhttp::field::server, "rotor");
    if (!out.contentType.empty()) response_.set(bhttp::field::content_type, out.contentType);
    for (const auto& [name, value] : out.headers) response_.set(name, value);
    response_.body() = std::move(out.body);
    response_.keep_alive(keepAlive);
    response_.prepare_payload();
    expiresAfter(server_.options().writeTimeout);
    bhttp::async_write(stream_, response_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      if (!self->response_.keep_alive()) return self->close();
      self->awaitRequest();
    });
  }

  /** The header with chunked encoding, then each chunk as the body stream delivers it. */
  void writeStreamed(HttpResponse out, bool keepAlive) {
    body_ = std::move(out.stream);
    streamKeepAlive_ = keepAlive;
    streamHeader_ = {};
    streamHeader_.result(static_cast<bhttp::status>(out.status));
    streamHeader_.version(11);
    streamHeader_.set(bhttp::field::server, "rotor");
    if (!out.contentType.empty()) streamHeader_.set(bhttp::field::content_type, out.contentType);
    for (const auto& [name, value] : out.headers) streamHeader_.set(name, value);
    streamHeader_.keep_alive(keepAlive);
    streamHeader_.chunked(true);
    streamSerializer_.emplace(streamHeader_);
    expiresAfter(server_.options().writeTimeout);
    bhttp::async_write_header(stream_, *streamSerializer_,
                              [self = this->shared_from_this()](beast::error_code ec, size_t) {
                                if (ec) return self->abandonStream();
                                self->awaitChunk();
                              });
  }

  /** Waits for the source, owned by the worker meanwhile (the source may outlive the server). */
  void awaitChunk() {
    deadline_ = SteadyTime::max();  // waiting on the source, not on the client
    worker_.awaitingSource[this] = this->shared_from_this();
    std::weak_ptr<Session> weak = this->shared_from_this();
    body_->next([weak, gate = worker_.gate](std::optional<std::string> chunk) {
      gate->post([weak, chunk = std::move(chunk)]() mutable {
        if (auto self = weak.lock()) {
          self->worker_.awaitingSource.erase(self.get());
          self->writeChunk(std::move(chunk));
        }
      });
    });
  }

  void writeChunk(std::optional<std::string> chunk) {
    expiresAfter(server_.options().writeTimeout);
    if (!chunk) {
      asio::async_write(stream_, bhttp::make_chunk_last(),
                        [self = this->shared_from_this()](beast::error_code ec, size_t) {
                          self->body_.reset();
                          if (ec) return;
                          if (!self->streamKeepAlive_) return self->close();
                          self->awaitRequest();
                        });
      return;
    }
    if (chunk->empty()) return awaitChunk();  // an empty chunk would end the body
    pendingChunk_ = std::move(*chunk);
    asio::async_write(stream_, bhttp::make_chunk(asio::buffer(pendingChunk_)),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->abandonStream();
                        self->awaitChunk();
                      });
  }

  /** The client went away mid-body: tell the source to stop. */
  void abandonStream() {
    if (body_) body_->cancel();
    body_.reset();
  }

  void close() {
    if (lingerOnClose_) return lingerThenClose();
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      beast::error_code ignored;
      stream_.shutdown(tcp::socket::shutdown_send, ignored);
    } else {
      expiresAfter(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    }
  }

  /**
   * After refusing a request it did not read to the end: end the sending side, then read and
   * drop what the client still sends for a while. Closing at once with unread bytes would make
   * the kernel reset the connection, and the reset can destroy the refusal before the client
   * reads it (the lingering close that web servers do).
   */
  void lingerThenClose() {
    beast::error_code ignored;
    lowest().shutdown(tcp::socket::shutdown_send, ignored);
    expiresAfter(kLinger);
    drain(0);
  }
  void drain(size_t drained) {
    buffer_.consume(buffer_.size());
    lowest().async_read_some(buffer_.prepare(4096),
                             [self = this->shared_from_this(), drained](beast::error_code ec, size_t n) {
                               if (ec || drained + n > kMaxLingerBytes) return;  // done: the session and its socket go
                               self->drain(drained + n);
                             });
  }
  static constexpr std::chrono::milliseconds kLinger{2000};
  static constexpr size_t kMaxLingerBytes = 1 << 20;

  HttpServer::Impl& server_;
  Worker& worker_;
  std::optional<std::list<Deadlined*>::iterator> listed_;
  Stream stream_;
  std::shared_ptr<SslContext> ctx_;  // keeps the certificate this connection shook hands with
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> response_;
  // A streamed (chunked) response in flight.
  std::shared_ptr<BodyStream> body_;
  bhttp::response<bhttp::empty_body> streamHeader_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> streamSerializer_;
  std::string pendingChunk_;
  bool streamKeepAlive_ = false;
  bool lingerOnClose_ = false;
  std::optional<std::string> identity_;
};

/** Starts a session on its worker's thread; only that thread touches it from then on. */
template <typename S>
void startOn(Worker& worker, std::shared_ptr<S> session) {
  asio::post(worker.ioc, [session = std::move(session)] { session->start(); });
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
    ASSIGN_OR_RETURN(ctx_, makeContext(options_));
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
  } else if (options_.plainHttp) {
    startOn(worker, std::make_shared<Session<tcp::socket>>(*this, worker, std::move(socket), nullptr));
  } else {
    std::shared_ptr<SslContext> ctx = context();
    beast::ssl_stream<tcp::socket> stream(std::move(socket), *ctx);
    startOn(worker, std::make_shared<Session<beast::ssl_stream<tcp::socket>>>(*this, worker, std::move(stream),
                                                                              std::move(ctx)));
  }
  accept();
}

Status HttpServer::Impl::reloadCertificate() {
  if (options_.plainHttp) return failedPrecondition("the adoption API serves plain HTTP; there is no certificate");
  const auto certStamp = fileStamp(options_.certFile);
  const auto keyStamp = fileStamp(options_.keyFile);
  ASSIGN_OR_RETURN(std::shared_ptr<SslContext> fresh, makeContext(options_));
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
