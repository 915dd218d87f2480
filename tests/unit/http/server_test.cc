#include "controller/http/server.h"

#include <sys/resource.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/common/clock.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_client.h"

namespace rotor::http {
namespace {

using rotor::testing::Socket;
using rotor::testing::TlsClient;
using namespace std::chrono_literals;

size_t openFileDescriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/** Polls `done` for up to `limit`: the server closes connections on its own threads. */
template <typename Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = 15s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string get(const std::string& path, bool keepAlive = true) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + (keepAlive ? "" : "Connection: close\r\n") + "\r\n";
}

/** Delivers "chunk-<i>\n" for i < count, each from its own thread `gap` after being asked, then
 *  ends; remembers whether the server cancelled it. */
class TickingStream final : public BodyStream, public std::enable_shared_from_this<TickingStream> {
public:
  TickingStream(int count, std::chrono::milliseconds gap) : count_(count), gap_(gap) {}
  void next(Deliver deliver) override {
    std::thread([self = shared_from_this(), deliver = std::move(deliver)] {
      std::this_thread::sleep_for(self->gap_);
      const int i = self->sent_++;
      deliver(i < self->count_ && !self->cancelled ? std::optional<std::string>("chunk-" + std::to_string(i) + "\n")
                                                   : std::nullopt);
    }).detach();
  }
  void cancel() override { cancelled = true; }
  std::atomic<bool> cancelled{false};

private:
  const int count_;
  const std::chrono::milliseconds gap_;
  std::atomic<int> sent_{0};
};

/** The body of a chunked response, decoded; nullopt when the stream is not well formed. */
std::optional<std::string> dechunk(std::string_view raw) {
  std::string body;
  for (;;) {
    const size_t eol = raw.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    const size_t size = std::stoul(std::string(raw.substr(0, eol)), nullptr, 16);
    raw.remove_prefix(eol + 2);
    if (size == 0) return raw == "\r\n" ? std::optional<std::string>(body) : std::nullopt;
    if (raw.size() < size + 2) return std::nullopt;
    body += raw.substr(0, size);
    raw.remove_prefix(size + 2);
  }
}

/** Asks for /stream and reads the raw response into `raw` until it holds `wanted` (5 s at most). */
bool readStreamUntil(TlsClient& client, const std::string& wanted, std::string& raw) {
  return client.send(get("/stream")) && eventually(
                                            [&] {
                                              raw += client.readAvailable();
                                              return raw.find(wanted) != std::string::npos;
                                            },
                                            5s);
}

class HttpServerTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new rotor::testing::TempDir();
    std::string out;
    const std::string script = (rotor::testing::sourceDir() / "tests/support/test_certificates.sh").string();
    ASSERT_EQ(rotor::testing::runShell("cd " + dir_->path().string() + " && sh " + script + " agent-1", &out), 0)
        << out;
  }
  static void TearDownTestSuite() { delete dir_; }

  std::string file(const std::string& name) const { return (dir_->path() / name).string(); }

  ServerOptions tlsOptions() const {
    ServerOptions o;
    o.certFile = file("served.crt");
    o.keyFile = file("served.key");
    return o;
  }

  void SetUp() override {
    std::filesystem::copy_file(file("server.crt"), file("served.crt"),
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(file("server.key"), file("served.key"),
                               std::filesystem::copy_options::overwrite_existing);
  }

  std::unique_ptr<HttpServer> start(const ServerOptions& o) {
    auto server = HttpServer::start(
        o,
        [this](const HttpRequest& r) {
          if (r.target == "/stream") return HttpResponse{200, "text/plain", "", {}, stream_};
          HttpResponse out{200,
                           "text/plain",
                           r.method + " " + r.target + " identity=" + r.clientIdentity.value_or("-") +
                               " body=" + std::to_string(r.body.size()),
                           {{"X-Test", "yes"}}};
          return out;
        },
        log_);
    EXPECT_OK(server.status());
    return server.ok() ? std::move(server).value() : nullptr;
  }

  static rotor::testing::TempDir* dir_;
  std::shared_ptr<TickingStream> stream_;
  std::ostringstream logText_;
  RealClock clock_;
  Logger log_{logText_, clock_, LogLevel::kDebug, LogFormat::kText};
};
rotor::testing::TempDir* HttpServerTest::dir_ = nullptr;

TEST_F(HttpServerTest, ServesRequestsOverKeepAliveTls) {
  auto server = start(tlsOptions());
  TlsClient client(server->port(), file("ca.crt"));
  ASSERT_TRUE(client.connected());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get("/v1/x")));
    auto response = client.readResponse();
    ASSERT_TRUE(response);
    EXPECT_THAT(*response, ::testing::StartsWith("HTTP/1.1 200"));
    EXPECT_THAT(*response, ::testing::HasSubstr("GET /v1/x identity=- body=0"));
    EXPECT_THAT(*response, ::testing::HasSubstr("X-Test: yes"));
  }
  EXPECT_EQ(server->openConnections(), 1u);
}

TEST_F(HttpServerTest, PipelinedAndSplitRequestsAreEachAnsweredInOrder) {
  auto server = start(tlsOptions());
  TlsClient client(server->port(), file("ca.crt"));
  ASSERT_TRUE(client.connected());
  // Two whole requests in one write, then one whose body arrives later than its header.
  ASSERT_TRUE(client.send(get("/v1/first") + "PUT /v1/second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  ASSERT_TRUE(client.send("PUT /v1/third HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(client.send("cd"));
  for (const char* expected :
       {"GET /v1/first identity=- body=0", "PUT /v1/second identity=- body=3", "PUT /v1/third identity=- body=4"}) {
    auto response = client.readResponse();
    ASSERT_TRUE(response) << expected;
    EXPECT_THAT(*response, ::testing::HasSubstr(expected));
  }
}

TEST_F(HttpServerTest, AStreamedBodyIsSentInChunksAsItIsProducedAndTheConnectionLivesOn) {
  stream_ = std::make_shared<TickingStream>(3, 30ms);
  auto server = start(tlsOptions());
  TlsClient client(server->port(), file("ca.crt"));
  std::string raw;
  ASSERT_TRUE(readStreamUntil(client, "0\r\n\r\n", raw)) << raw;
  const size_t headerEnd = raw.find("\r\n\r\n");
  EXPECT_THAT(raw.substr(0, headerEnd), ::testing::HasSubstr("Transfer-Encoding: chunked"));
  EXPECT_EQ(dechunk(std::string_view(raw).substr(headerEnd + 4)), "chunk-0\nchunk-1\nchunk-2\n");
  EXPECT_EQ(client.request(get("/after")), 200);  // keep-alive: the next request is served
}

TEST_F(HttpServerTest, AClientThatLeavesMidStreamCancelsItsSource) {
  stream_ = std::make_shared<TickingStream>(100000, 5ms);
  auto server = start(tlsOptions());
  {
    TlsClient client(server->port(), file("ca.crt"));
    std::string raw;
    ASSERT_TRUE(readStreamUntil(client, "chunk-1", raw)) << raw;
  }
  EXPECT_TRUE(eventually([&] { return stream_->cancelled.load(); }, 5s));
  EXPECT_TRUE(eventually([&] { return server->openConnections() == 0; }, 5s));
}

TEST_F(HttpServerTest, AVerifiedClientCertificateNamesTheCaller) {
  ServerOptions o = tlsOptions();
  o.clientCaFile = file("ca.crt");
  auto server = start(o);
  TlsClient withCert(server->port(), file("ca.crt"), file("client.crt"), file("client.key"));
  ASSERT_TRUE(withCert.send(get("/")));
  EXPECT_THAT(*withCert.readResponse(), ::testing::HasSubstr("identity=agent-1"));
  TlsClient withoutCert(server->port(), file("ca.crt"));
  ASSERT_TRUE(withoutCert.send(get("/")));
  EXPECT_THAT(*withoutCert.readResponse(), ::testing::HasSubstr("identity=-"));
  // A certificate from another CA fails the handshake instead of passing as anonymous.
  TlsClient foreign(server->port(), file("ca.crt"), file("served.crt"), file("served.key"));
  EXPECT_FALSE(foreign.connected() && foreign.request(get("/")) == 200);
}

TEST_F(HttpServerTest, ANewCertificateServesNewConnectionsWhileOpenOnesKeepTheirs) {
  ServerOptions o = tlsOptions();
  o.certificateCheckInterval = 100ms;
  auto server = start(o);
  TlsClient before(server->port(), file("ca.crt"));
  ASSERT_TRUE(before.connected());
  const std::string oldDigest = before.peerDigest();
  // Key first, then certificate: the watcher may see the pair half-written and must keep the old.
  std::filesystem::copy_file(file("server2.key"), file("served.key"),
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(file("server2.crt"), file("served.crt"),
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(eventually([&] {
    TlsClient probe(server->port(), file("ca.crt"));
    return probe.connected() && probe.peerDigest() != oldDigest;
  }));
  EXPECT_EQ(before.request(get("/still-here")), 200);
  EXPECT_EQ(before.peerDigest(), oldDigest);
  EXPECT_THAT(logText_.str(), ::testing::HasSubstr("Reloaded the adoption API certificate"));
}

TEST_F(HttpServerTest, ABrokenCertificateFileKeepsTheOldOne) {
  auto server = start(tlsOptions());
  std::filesystem::resize_file(file("served.crt"), 10);
  EXPECT_THAT(server->reloadCertificate(), rotor::testing::StatusIs(Code::kInvalidArgument));
  TlsClient client(server->port(), file("ca.crt"));
  EXPECT_EQ(client.request(get("/")), 200);
}

TEST_F(HttpServerTest, OversizedHeadersAndBodiesAreRefusedAndTheConnectionClosed) {
  ServerOptions o = tlsOptions();
  o.maxHeaderBytes = 1024;
  o.maxBodyBytes = 100;
  auto server = start(o);
  TlsClient big(server->port(), file("ca.crt"));
  EXPECT_EQ(big.request("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n"), 431);
  TlsClient body(server->port(), file("ca.crt"));
  EXPECT_EQ(body.request("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b')), 413);
  TlsClient fits(server->port(), file("ca.crt"));
  EXPECT_EQ(fits.request("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b')), 200);
}

TEST_F(HttpServerTest, RequestsThatAreNotHttpAre400AndTheConnectionClosed) {
  using namespace std::string_literals;
  auto server = start(tlsOptions());
  for (const std::string& garbage : {"GET / HTTP/1.1\r\nHo\0st: x\r\n\r\n"s, "\x16\x03\x01 hello\r\n\r\n"s,
                                     "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n"s}) {
    TlsClient client(server->port(), file("ca.crt"));
    // What follows the bad request is still unread when the server answers: the answer must
    // survive that (no reset), and nothing more is served on the connection.
    EXPECT_EQ(client.request(garbage + get("/after")), 400) << ::testing::PrintToString(garbage);
  }
  TlsClient fine(server->port(), file("ca.crt"));
  EXPECT_EQ(fine.request(get("/")), 200);
}

TEST_F(HttpServerTest, SlowAndSilentClientsAreCutOffByTheirTimeouts) {
  ServerOptions o = tlsOptions();
  o.handshakeTimeout = 300ms;
  o.idleTimeout = 300ms;
  o.headerTimeout = 300ms;
  o.bodyTimeout = 300ms;
  auto server = start(o);
  Socket halfOpen(server->port());  // TCP only, never a ClientHello
  TlsClient idle(server->port(), file("ca.crt"));
  TlsClient slowHeader(server->port(), file("ca.crt"));
  ASSERT_TRUE(slowHeader.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // never finishes the header
  TlsClient slowBody(server->port(), file("ca.crt"));
  ASSERT_TRUE(slowBody.send("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nonly part"));
  EXPECT_TRUE(halfOpen.closedByPeer());
  EXPECT_FALSE(idle.readResponse());
  EXPECT_FALSE(slowHeader.readResponse());
  EXPECT_FALSE(slowBody.readResponse());
  EXPECT_TRUE(eventually([&] { return server->openConnections() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  ServerOptions o = tlsOptions();
  o.maxConnections = 2;
  auto server = start(o);
  TlsClient a(server->port(), file("ca.crt")), b(server->port(), file("ca.crt"));
  ASSERT_TRUE(a.connected() && b.connected());
  TlsClient c(server->port(), file("ca.crt"));
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(server->rejectedConnections(), 1u);
  EXPECT_EQ(a.request(get("/")), 200);
}

TEST_F(HttpServerTest, PlainHttpOnlyWhenAsked) {
  ServerOptions o;
  o.plainHttp = true;
  auto server = start(o);
  Socket s(server->port());
  const std::string req = get("/plain", false);
  ASSERT_EQ(::send(s.fd(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  char buf[512] = {};
  ASSERT_GT(::recv(s.fd(), buf, sizeof buf - 1, MSG_WAITALL), 0);
  EXPECT_THAT(std::string(buf), ::testing::HasSubstr("GET /plain identity=-"));
  ServerOptions missing;
  EXPECT_THAT(HttpServer::start(
                  missing, [](const HttpRequest&) { return HttpResponse{}; }, log_)
                  .status(),
              rotor::testing::StatusIs(Code::kInvalidArgument));
}

// The bar: 2,000 idle TLS connections and 500 half-open ones held while a new client is
// still answered, and every descriptor given back once they go.
TEST_F(HttpServerTest, HoldsThousandsOfIdleAndHalfOpenConnectionsAndStillAnswers) {
  constexpr int kIdle = 2000, kHalfOpen = 500;
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < 2 * (kIdle + kHalfOpen) + 200) {
    GTEST_SKIP() << "needs " << 2 * (kIdle + kHalfOpen) + 200 << " file descriptors; the hard limit is "
                 << limit.rlim_cur;
  }
  ServerOptions options = tlsOptions();
  // Timeouts are another test's subject: here nothing may expire while thousands of handshakes
  // run, however slow the build (sanitizers make them several times slower).
  options.handshakeTimeout = options.idleTimeout = std::chrono::minutes(5);
  auto server = start(options);
  // One connection per worker first: each worker's poller is set up with its first connection,
  // a fixed cost that is part of the baseline.
  for (int i = 0; i < options.threads; ++i) {
    EXPECT_EQ(TlsClient(server->port(), file("ca.crt")).request(get("/")), 200);
  }
  ASSERT_TRUE(eventually([&] { return server->openConnections() == 0; }));
  const size_t baseline = openFileDescriptors();
  {
    std::vector<std::unique_ptr<TlsClient>> idle;
    std::vector<std::unique_ptr<Socket>> halfOpen;
    for (int i = 0; i < kIdle; ++i) {
      idle.push_back(std::make_unique<TlsClient>(server->port(), file("ca.crt")));
      ASSERT_TRUE(idle.back()->connected()) << "idle connection " << i;
      if (i < kHalfOpen) halfOpen.push_back(std::make_unique<Socket>(server->port()));
    }
    ASSERT_TRUE(eventually([&] { return server->openConnections() == kIdle + kHalfOpen; }));
    TlsClient fresh(server->port(), file("ca.crt"));
    ASSERT_TRUE(fresh.connected());
    EXPECT_EQ(fresh.request("PUT /v1/agents/new HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"), 200);
    EXPECT_EQ(idle.front()->request(get("/")), 200);  // and the oldest idle one still works
  }
  EXPECT_TRUE(eventually([&] { return server->openConnections() == 0; }));
  EXPECT_TRUE(eventually([&] { return openFileDescriptors() == baseline; }))
      << openFileDescriptors() << " descriptors open, " << baseline << " before";
}

}  // namespace
}  // namespace rotor::http
