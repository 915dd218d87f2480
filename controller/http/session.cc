#include <boost/asio/post.hpp>

#include "controller/http/server_impl.h"

namespace rotor::http {
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

}  // namespace

void startSession(HttpServer::Impl& server, Worker& worker, tcp::socket socket, std::shared_ptr<SslContext> ctx) {
  // Only the worker's thread touches a session from then on.
  if (!ctx) {
    auto session = std::make_shared<Session<tcp::socket>>(server, worker, std::move(socket), nullptr);
    asio::post(worker.ioc, [session = std::move(session)] { session->start(); });
    return;
  }
  beast::ssl_stream<tcp::socket> stream(std::move(socket), *ctx);
  auto session =
      std::make_shared<Session<beast::ssl_stream<tcp::socket>>>(server, worker, std::move(stream), std::move(ctx));
  asio::post(worker.ioc, [session = std::move(session)] { session->start(); });
}

}  // namespace rotor::http
