// A whole CA rotation gated on a fleet: the rotor binary in local mode serves the adoption API on
// 127.0.0.1, and AGENTS simulated agents each check in every second, as `rotor agent` does — a
// conditional GET of the bundle, then a PUT of the fingerprints it holds — over keep-alive HTTPS
// connections shared by a few threads. The rotation must wait for all of them (minAgents = AGENTS,
// threshold 100 %). Figure: from `rotor rotate` to Ready at revision 2, less the configured delays
// (here only prune.after: minStageDuration and bakeTime are 0, so that the wait for adoption is the
// fleet's own), in check-in intervals.
//   rotation_bench ROTOR_BINARY [AGENTS]   (default 1000)
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "bench/bench_util.h"
#include "controller/pki/bundle.h"
#include "controller/store/local/local_store.h"
#include "tests/support/child_process.h"
#include "tests/support/pki_fixtures.h"

using namespace rotor;
using namespace rotor::bench;
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr auto kInterval = std::chrono::seconds(1);
constexpr int kConnections = 8;
constexpr const char* kManifest = R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: fleet, namespace: default}
spec:
  certificate: {commonName: fleet.example.test, dnsNames: [fleet.example.test]}
  servers: [{name: main, certFile: certs/server.crt, keyFile: certs/server.key}]
  ca: {generate: {commonName: Fleet CA}}
  trustBundle: {file: trust/ca-bundle.pem}
  adoption: {threshold: 100, minAgents: AGENTS, minStageDuration: 0s, staleAfter: 1h}
  swap: {bakeTime: 0s}
  prune: {after: 2s}
)";
// Only prune.after: with no minimum stage time, the wait for adoption is the fleet's own.
constexpr auto kConfiguredDelays = std::chrono::seconds(2);

void writeFile(const fs::path& path, const std::string& content) { std::ofstream(path) << content; }

/** One keep-alive connection checking in for its share of the fleet, each agent once a second. */
class FleetConnection {
public:
  FleetConnection(asio::ssl::context& tls, uint16_t port, std::string token, std::vector<std::string> agents)
      : stream_(io_, tls), port_(port), token_(std::move(token)), agents_(std::move(agents)) {}

  void run(const std::atomic<bool>& stop) {
    beast::get_lowest_layer(stream_).connect({asio::ip::make_address("127.0.0.1"), port_});
    stream_.handshake(asio::ssl::stream_base::client);
    auto next = std::chrono::steady_clock::now();
    // Every agent of this connection in turn, spread evenly over the interval.
    const auto step =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(kInterval) / static_cast<long>(agents_.size());
    while (!stop) {
      for (size_t i = 0; i < agents_.size() && !stop; ++i) {
        std::this_thread::sleep_until(next);
        next += step;
        checkIn(i);
      }
    }
  }
  int failures() const { return failures_; }

private:
  struct AgentState {
    std::string etag;
    std::string trustedJson = "[]";
  };

  http::response<http::string_body> send(http::verb verb, const std::string& target, std::string body,
                                         const std::string& etag) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + token_);
    if (!etag.empty()) req.set(http::field::if_none_match, etag);
    if (verb == http::verb::put) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    http::write(stream_, req);
    http::response<http::string_body> res;
    http::read(stream_, buffer_, res);
    return res;
  }

  void checkIn(size_t i) {
    AgentState& agent = states_[i];
    const std::string base = "/v1/namespaces/default/rotations/fleet";
    auto bundle = send(http::verb::get, base + "/bundle", "", agent.etag);
    if (bundle.result() == http::status::ok) {
      agent.etag = std::string(bundle[http::field::etag]);
      agent.trustedJson = "[";
      const std::vector<pki::Certificate> cas = pki::parsePemBundle(bundle.body()).value();
      for (const pki::Certificate& ca : cas) {
        agent.trustedJson += (agent.trustedJson.size() > 1 ? ",\"" : "\"") + ca.fingerprint().toString() + "\"";
      }
      agent.trustedJson += "]";
    } else if (bundle.result() != http::status::not_modified) {
      ++failures_;
    }
    auto report = send(http::verb::put, base + "/agents/" + agents_[i],
                       "{\"trusted\":" + agent.trustedJson + ",\"version\":\"bench\"}", "");
    if (report.result() != http::status::ok && report.result() != http::status::no_content) ++failures_;
  }

  asio::io_context io_;
  asio::ssl::stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  uint16_t port_;
  std::string token_;
  std::vector<std::string> agents_;
  std::map<size_t, AgentState> states_;
  int failures_ = 0;
};

struct Observed {
  std::string phase;
  int64_t revision = 0;
};

Observed observe(store::local::LocalStore& store) {
  auto r = store.getRotation({"default", "fleet"});
  if (!r.ok()) return {};
  return {std::string(api::phaseName(r->status.phase)), r->status.revision};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: rotation_bench ROTOR_BINARY [AGENTS]\n");
    return 2;
  }
  const std::string rotor = fs::absolute(argv[1]);
  const int agents = argc > 2 ? std::stoi(argv[2]) : 1000;
  const fs::path dir = fs::temp_directory_path() / "rotor-rotation-bench";
  fs::remove_all(dir);
  fs::create_directories(dir / "api");
  const std::string log = (dir / "controller.log").string();

  // The adoption API's certificate, for 127.0.0.1.
  const pki::CertificateAuthority apiCa =
      testing::makeCa("bench API CA", std::chrono::hours(24), {}, std::chrono::system_clock::now());
  const testing::IssuedLeaf apiLeaf =
      testing::issueLeaf(apiCa, testing::leafSpec("127.0.0.1"), std::chrono::system_clock::now());
  writeFile(dir / "api/server.crt", apiLeaf.certificate.toPem());
  writeFile(dir / "api/server.key", apiLeaf.key.toPem());
  std::string manifest = kManifest;
  manifest.replace(manifest.find("AGENTS"), 6, std::to_string(agents));
  writeFile(dir / "rotation.yaml", manifest);
  const auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {rotor, "--local", dir.string()});
    return runMeasured(args, log).exitCode;
  };
  if (cli({"apply", "-f", (dir / "rotation.yaml").string()}) != 0 ||
      cli({"token", "fleet", "--file", (dir / "agent.token").string()}) != 0) {
    std::fprintf(stderr, "setting up the rotation failed; see %s\n", log.c_str());
    return 1;
  }
  std::string token;
  std::ifstream(dir / "agent.token") >> token;

  const auto port = static_cast<uint16_t>(testing::freeLoopbackPort());
  // Stopped (SIGTERM, then SIGKILL if it lingers) however the benchmark ends.
  std::optional<testing::ChildProcess> controller(
      std::in_place,
      std::vector<std::string>{rotor, "--local", dir.string(), "controller", "--adoption-addr",
                               "127.0.0.1:" + std::to_string(port), "--adoption-cert",
                               (dir / "api/server.crt").string(), "--adoption-key", (dir / "api/server.key").string()},
      log);
  RealClock clock;
  auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  const auto waitFor = [&](const std::string& phase, int64_t revision, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const Observed now = observe(*store);
      if (now.phase == phase && now.revision == revision) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  int status = 1;
  if (waitFor("Ready", 1, std::chrono::seconds(30))) {
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.add_certificate_authority(asio::buffer(apiCa.certificate().toPem()));
    tls.set_verify_mode(asio::ssl::verify_peer);
    std::vector<std::unique_ptr<FleetConnection>> fleet;
    for (int c = 0; c < kConnections; ++c) {
      std::vector<std::string> ids;
      for (int a = c; a < agents; a += kConnections) ids.push_back("agent-" + std::to_string(a));
      fleet.push_back(std::make_unique<FleetConnection>(tls, port, token, std::move(ids)));
    }
    std::atomic<bool> stop{false};
    std::vector<std::jthread> threads;
    for (auto& connection : fleet) threads.emplace_back([&stop, c = connection.get()] { c->run(stop); });
    std::this_thread::sleep_for(3 * kInterval);  // every agent has reported the old CA

    const auto started = std::chrono::steady_clock::now();
    cli({"rotate", "fleet"});
    std::vector<std::pair<std::string, double>> entered;  // phase, seconds after the rotate
    Observed last;
    bool done = false;
    while (!done && secondsSince(started) < 120) {
      const Observed now = observe(*store);
      if (now.phase != last.phase && !(now.phase == "Ready" && now.revision == 1)) {
        entered.emplace_back(now.phase, secondsSince(started));
      }
      last = now;
      done = now.phase == "Ready" && now.revision == 2;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const double total = secondsSince(started);
    stop = true;
    threads.clear();
    int failures = 0;
    for (auto& connection : fleet) failures += connection->failures();
    std::string phases;
    for (const auto& [phase, at] : entered) phases += format(" %s@%.2fs", phase.c_str(), at);
    std::printf("rotation  %d agents every %llds: Ready at revision 2 after %.2f s;%s; %d failed requests\n", agents,
                static_cast<long long>(kInterval.count()), total, phases.c_str(), failures);
    if (done && failures == 0) {
      const double delays = std::chrono::duration<double>(kConfiguredDelays).count();
      const double intervals = (total - delays) / std::chrono::duration<double>(kInterval).count();
      row(format("Rotation latency: a CA rotation gated on %d agents checking in every %llds", agents,
                 static_cast<long long>(kInterval.count())),
          format("%.2f s", total), format("configured delays: %.0f s", delays),
          format("%.2f intervals beyond them", intervals), "<= 3 intervals");
      status = 0;
    }
  } else {
    std::fprintf(stderr, "the rotation did not bootstrap; see %s\n", log.c_str());
  }
  controller.reset();
  if (status == 0) fs::remove_all(dir);
  return status;
}
