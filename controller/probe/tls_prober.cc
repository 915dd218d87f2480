#include "controller/probe/tls_prober.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <cerrno>
#include <cstring>

#include "controller/pki/bundle.h"
#include "controller/pki/handles.h"
#include "controller/pki/openssl_error.h"

namespace rotor::probe {
namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, pki::Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, pki::Deleter<SSL_free>>;
using AddrInfoPtr = std::unique_ptr<addrinfo, pki::Deleter<freeaddrinfo>>;

class Socket {
public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

private:
  int fd_;
};

/** "host:port" or "[v6]:port". */
bool splitAddress(const std::string& address, std::string& host, std::string& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return !host.empty();
}

/** A connected socket with send/receive timeouts, or kUnavailable. */
StatusOr<std::unique_ptr<Socket>> connectWithin(const std::string& address, std::chrono::milliseconds timeout) {
  std::string host, port;
  if (!splitAddress(address, host, port)) {
    return invalidArgument("health check address \"" + address + "\" is not host:port");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return unavailable("cannot resolve " + address + ": " + gai_strerror(rc));
  }
  AddrInfoPtr addresses(found);
  std::string lastError = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    auto sock = std::make_unique<Socket>(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (sock->fd() < 0) continue;
    if (::connect(sock->fd(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      lastError = std::strerror(errno);
      continue;
    }
    pollfd p{sock->fd(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      lastError = "timed out";
      continue;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    ::getsockopt(sock->fd(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      lastError = std::strerror(error);
      continue;
    }
    ::fcntl(sock->fd(), F_SETFL, ::fcntl(sock->fd(), F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(sock->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(sock->fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return sock;
  }
  return unavailable("cannot connect to " + address + ": " + lastError);
}

}  // namespace

Status TlsProber::probe(const api::HealthCheckSpec& check, const std::string& bundlePem,
                        const std::string& expectedFingerprint) {
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> roots, pki::parsePemBundle(bundlePem));
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return pki::opensslError(Code::kInternal, "cannot create a TLS context");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  for (const pki::Certificate& root : roots) {
    X509_STORE_add_cert(store, root.get());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  ASSIGN_OR_RETURN(std::unique_ptr<Socket> sock, connectWithin(check.address, timeout_));
  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl) return pki::opensslError(Code::kInternal, "cannot create a TLS session");
  const std::string& name = check.serverName;
  if (!name.empty()) {
    // SSL_set_tlsext_host_name is a macro with an old-style cast.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
    SSL_set1_host(ssl.get(), name.c_str());
  }
  SSL_set_fd(ssl.get(), sock->fd());
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    ERR_clear_error();
    if (verify != X509_V_OK) {
      return failedPrecondition("certificate presented by " + check.address +
                                " does not verify against the bundle: " + X509_verify_cert_error_string(verify));
    }
    return unavailable("TLS handshake with " + check.address + " failed");
  }
  pki::X509Ptr peer(SSL_get1_peer_certificate(ssl.get()));
  SSL_shutdown(ssl.get());
  if (!peer) return failedPrecondition(check.address + " presented no certificate");
  const std::string presented = pki::Certificate::adopt(std::move(peer)).fingerprint().toString();
  if (presented != expectedFingerprint) {
    return failedPrecondition(check.address + " presents " + presented + ", not the installed " + expectedFingerprint);
  }
  return okStatus();
}

}  // namespace rotor::probe
