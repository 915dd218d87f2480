#pragma once

#include <poll.h>

// A blocking TLS (or plain TCP) client for tests of rotor's servers: connect, send bytes, read
// one HTTP response. RAII over the socket and every OpenSSL handle.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace rotor::testing {

/** A TCP connection to 127.0.0.1:port with receive and send timeouts; fd -1 when refused. */
class Socket {
public:
  Socket(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  /** True when the peer closed the connection (or it failed) within the receive timeout. */
  bool closedByPeer() const {
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

private:
  int fd_ = -1;
};

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

/** A TLS client connection verified against `caFile`, optionally with a client certificate. */
class TlsClient {
public:
  TlsClient(uint16_t port, const std::string& caFile, const std::string& certFile = "", const std::string& keyFile = "",
            std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : socket_(port, timeout) {
    ::signal(SIGPIPE, SIG_IGN);  // a write to a connection the server closed must fail, not kill
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_load_verify_locations(ctx_.get(), caFile.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (!certFile.empty()) {
      SSL_CTX_use_certificate_chain_file(ctx_.get(), certFile.c_str());
      SSL_CTX_use_PrivateKey_file(ctx_.get(), keyFile.c_str(), SSL_FILETYPE_PEM);
    }
    if (socket_.fd() < 0) return;
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), socket_.fd());
    static char host[] = "localhost";  // SSL_set_tlsext_host_name without its C cast
    SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, host);
    connected_ = SSL_connect(ssl_.get()) == 1;
  }

  bool connected() const { return connected_; }
  int fd() const { return socket_.fd(); }

  /** The server certificate's SHA-256 over DER, hex. */
  std::string peerDigest() const {
    std::unique_ptr<X509, X509Free> peer(SSL_get1_peer_certificate(ssl_.get()));
    unsigned char md[32];
    unsigned int n = 0;
    if (!peer || X509_digest(peer.get(), EVP_sha256(), md, &n) != 1) return "";
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
      out += hex[md[i] >> 4];
      out += hex[md[i] & 15];
    }
    return out;
  }

  bool send(const std::string& bytes) {
    return connected_ &&
           SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }

  /** One HTTP response (headers and a Content-Length body), or nullopt on close/timeout. Bytes
   *  of a following (pipelined) response are kept for the next call. */
  std::optional<std::string> readResponse() {
    std::string& data = unread_;
    char buf[4096];
    for (;;) {
      const size_t headerEnd = data.find("\r\n\r\n");
      if (headerEnd != std::string::npos) {
        size_t length = 0;
        if (size_t at = data.find("Content-Length: "); at != std::string::npos && at < headerEnd) {
          length = std::stoul(data.substr(at + 16));
        }
        if (data.size() >= headerEnd + 4 + length) {
          std::string response = data.substr(0, headerEnd + 4 + length);
          data.erase(0, response.size());
          return response;
        }
      }
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      data.append(buf, static_cast<size_t>(n));
    }
  }

  /** What has arrived (decrypted), waiting at most ~50 ms for the first bytes; never waits for
   *  more once something came, so that a stream that keeps flowing still returns. */
  std::string readAvailable() {
    std::string out = std::move(unread_);
    unread_.clear();
    pollfd p{SSL_get_fd(ssl_.get()), POLLIN, 0};
    if (SSL_pending(ssl_.get()) == 0 && ::poll(&p, 1, 50) <= 0) return out;
    char buf[4096];
    do {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    } while (SSL_pending(ssl_.get()) > 0);
    return out;
  }

  /** Sends a request and returns the response's status code (0 on failure). */
  int request(const std::string& raw) {
    if (!send(raw)) return 0;
    std::optional<std::string> r = readResponse();
    return r && r->size() > 12 ? std::stoi(r->substr(9, 3)) : 0;
  }

private:
  Socket socket_;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool connected_ = false;
  std::string unread_;
};

}  // namespace rotor::testing
