// Adoption API request parsing: any bytes sent on a connection to the real server (plain HTTP on
// 127.0.0.1, the handlers over a local store with one rotation, its bundle and a token). The
// server never crashes, answers or closes every connection, and every log line it writes about
// the request is valid JSON whatever bytes the request carried.

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <streambuf>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "controller/adoption/endpoint.h"
#include "controller/pki/digest.h"
#include "controller/store/local/local_store.h"

using namespace rotor;

namespace {

/** The log's sink: the server's threads write while the fuzzing thread takes what was written. */
class LockedText : public std::streambuf {
public:
  std::string take() {
    std::lock_guard lock(mu_);
    return std::exchange(text_, {});
  }

protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    const char ch = traits_type::to_char_type(c);
    xsputn(&ch, 1);
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard lock(mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

private:
  std::mutex mu_;
  std::string text_;
};

constexpr char kBundle[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

class Fixture {
public:
  Fixture() {
    char pattern[] = "/tmp/rotor-fuzz-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    store_ = std::move(store::local::LocalStore::open({.root = dir_}, clock_)).value();
    api::CertificateRotation r;
    r.metadata.name = "proxy";
    r.spec.certificate.commonName = "proxy.example.com";
    r.spec.servers.push_back({.name = "a", .certFile = "a.crt", .keyFile = "a.key"});
    r.spec.ca.generate = api::CaGenerateSpec{"Proxy CA", std::chrono::hours(24 * 365), {}};
    r.spec.trustBundle.file = "bundle.pem";
    r = store_->applyRotation(r).value();
    if (!store_->writeBundle(r, kBundle, "").ok() ||
        !store_->addAgentTokenDigest(r.key(), pki::sha256Hex("fuzz-token")).ok()) {
      std::abort();
    }
    adoption::EndpointOptions options;
    options.server.plainHttp = true;
    options.server.headerTimeout = options.server.bodyTimeout = std::chrono::milliseconds(500);
    options.service.agentsPerToken = 50;
    endpoint_ = std::move(adoption::AdoptionEndpoint::start(*store_, clock_, log_, options, nullptr)).value();
  }
  ~Fixture() {
    endpoint_.reset();
    std::filesystem::remove_all(dir_);
  }

  /** Sends `bytes`, half-closes, and reads until the server closes (or 5 s pass). */
  void exchange(const uint8_t* bytes, size_t size) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(endpoint_->port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (!connectTo(fd, address)) {
      std::fprintf(stderr, "connecting to the adoption API: %s\n", std::strerror(errno));
      std::abort();
    }
    for (size_t sent = 0; sent < size;) {
      const ssize_t n = ::send(fd, bytes + sent, size - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the server may close early on a request over a limit
      sent += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buffer[4096];
    ssize_t n = 0;
    // libFuzzer's SIGALRM (its -timeout watchdog) interrupts a blocked recv: read on.
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0 || (n < 0 && errno == EINTR)) {
    }
    ::close(fd);
    if (n < 0) {  // the server neither answered nor closed within the timeout, or reset the connection
      std::fprintf(stderr, "reading the answer: %s\n", std::strerror(errno));
      std::abort();
    }
  }

  /**
   * connect(2) that survives libFuzzer's SIGALRM: an interrupted connect goes on in the kernel, so
   * wait for it to finish and take its result instead of calling connect again.
   */
  static bool connectTo(int fd, const sockaddr_in& address) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return true;
    if (errno != EINTR) return false;
    pollfd waiting{fd, POLLOUT, 0};
    int ready = 0;
    while ((ready = ::poll(&waiting, 1, 5000)) < 0 && errno == EINTR) {
    }
    if (ready == 0) errno = ETIMEDOUT;
    if (ready <= 0) return false;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return false;
    errno = error;
    return error == 0;
  }

  /** Every line logged so far parses as JSON; then forgets them. */
  void checkLogs() {
    std::string line;
    std::istringstream lines(logText_.take());
    while (std::getline(lines, line)) {
      if (nlohmann::json::parse(line, nullptr, false).is_discarded()) std::abort();
    }
  }

private:
  RealClock clock_;
  LockedText logText_;
  std::ostream logs_{&logText_};
  Logger log_{logs_, clock_, LogLevel::kDebug, LogFormat::kJson};
  std::filesystem::path dir_;
  std::unique_ptr<store::local::LocalStore> store_;
  std::unique_ptr<adoption::AdoptionEndpoint> endpoint_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();  // lives for the process: the server keeps running
  fixture->exchange(data, size);
  fixture->checkLogs();
  return 0;
}
