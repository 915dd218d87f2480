// A fleet of agents against one controller in local mode, end to end: the rotor binary serves the
// adoption API on 127.0.0.1 and AGENTS distinct simulated agents each check in once per INTERVAL,
// as `rotor agent` does (a conditional GET of the bundle, then a PUT of the fingerprints it holds),
// spread evenly over the interval on keep-alive HTTPS connections (open loop: a check-in's latency
// counts from the moment it was due, so a server that falls behind cannot hide it). Agents hold
// one bearer token per 2,000 (the API's default limit of new ids per token).
//
//   interval 1        every agent registers
//   intervals 2 and 3 steady state: latency, controller CPU, memory, bytes written to disk
//   then              `rotor rotate`: a CA rotation gated on every agent (minAgents = AGENTS,
//                     threshold 100 %), until Ready at revision 2 and at least one more interval
// The fleet then stops, the controller is stopped gracefully, and every agent's record in the
// state directory is checked against the last check-in the API acknowledged to it: a record that
// is missing, older, or holds another trust set is a lost check-in. Last, the same fleet runs for
// one interval against nginx serving the same bytes over the same TLS (the baseline's CPU).
//   fleet_bench ROTOR_BINARY AGENTS INTERVAL_SECONDS [CONNECTIONS]
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
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
using Steady = std::chrono::steady_clock;

namespace {

constexpr int kAgentsPerToken = 2000;
constexpr const char* kRotationPath = "/v1/namespaces/default/rotations/fleet";
// Only prune.after: with no minimum stage time and no bake, the wait for adoption is the fleet's own.
constexpr auto kConfiguredDelays = std::chrono::seconds(2);

void writeFile(const fs::path& path, const std::string& content) { std::ofstream(path) << content; }

std::string manifest(int agents, std::chrono::seconds interval) {
  return format(R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: fleet, namespace: default}
spec:
  certificate: {commonName: fleet.example.test, dnsNames: [fleet.example.test]}
  servers: [{name: main, certFile: certs/server.crt, keyFile: certs/server.key}]
  ca: {generate: {commonName: Fleet CA}}
  trustBundle: {file: trust/ca-bundle.pem}
  adoption: {threshold: 100, minAgents: %d, minStageDuration: 0s, staleAfter: %llds}
  swap: {bakeTime: 0s}
  prune: {after: 2s}
)",
                agents, static_cast<long long>(3 * interval.count() + 60));
}

/** CPU, memory and disk writes of a process and its children (nginx's workers), from /proc. */
struct ProcessSample {
  double cpuSeconds = 0;
  long writeBytes = 0;
  long residentBytes = 0;
  long peakResidentBytes = 0;
};

long statusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

/** The fields of /proc/PID/stat after the command name (which may hold spaces): state, ppid, ... */
std::istringstream statFields(const fs::path& procDir) {
  std::ifstream stat(procDir / "stat");
  const std::string text((std::istreambuf_iterator<char>(stat)), {});
  const size_t close = text.rfind(')');
  return std::istringstream(close == std::string::npos ? "" : text.substr(close + 2));
}

ProcessSample sampleOne(pid_t pid) {
  ProcessSample s;
  std::istringstream fields = statFields("/proc/" + std::to_string(pid));
  std::string skip;
  for (int i = 3; i < 14; ++i) fields >> skip;  // state .. cmajflt
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  s.cpuSeconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  for (std::string key; io >> key;) {
    long value = 0;
    io >> value;
    if (key == "write_bytes:") s.writeBytes = value;
  }
  s.residentBytes = statusField(pid, "VmRSS");
  s.peakResidentBytes = statusField(pid, "VmHWM");
  return s;
}

ProcessSample sampleTree(pid_t root) {
  ProcessSample total = sampleOne(root);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::istringstream fields = statFields(entry.path());
    std::string state;
    pid_t parent = 0;
    fields >> state >> parent;
    if (parent != root) continue;
    const ProcessSample child = sampleOne(std::stoi(name));
    total.cpuSeconds += child.cpuSeconds;
    total.writeBytes += child.writeBytes;
    total.residentBytes += child.residentBytes;
    total.peakResidentBytes += child.peakResidentBytes;
  }
  return total;
}

/** Where the fleet checks in: the adoption API, or nginx serving the same bytes as static files. */
struct Target {
  uint16_t port = 0;
  bool nginx = false;
  std::string bundlePath() const { return nginx ? "/bundle.pem" : std::string(kRotationPath) + "/bundle"; }
  std::string checkInPath(const std::string& id) const {
    return nginx ? "/checkin.json" : std::string(kRotationPath) + "/agents/" + id;
  }
};

/** Which part of the run a check-in fell in; latencies are kept per stage. */
enum Stage { kRegistering, kSteady, kRotating, kStages };

/** One keep-alive connection checking in for its share of the fleet, each agent once an interval. */
class FleetConnection {
public:
  FleetConnection(asio::ssl::context& tls, Target target, const std::vector<std::string>& tokens, int index,
                  int connections, int agents)
      : tls_(tls), target_(target), tokens_(tokens), index_(index), connections_(connections) {
    for (int a = index; a < agents; a += connections) ids_.push_back(a);
    agents_.resize(ids_.size());
  }

  /** Checks in from `start` until `stop`, reading the stage to file each latency under. */
  void run(Steady::time_point start, Steady::duration interval, const std::atomic<bool>& stop,
           const std::atomic<int>& stage) {
    if (ids_.empty()) return;
    const Steady::duration step = interval / static_cast<long>(ids_.size());
    Steady::time_point due = start + step * index_ / connections_;
    while (!stop) {
      for (size_t i = 0; i < ids_.size() && !stop; ++i, due += step) {
        std::this_thread::sleep_until(due);
        const int at = stage.load();
        if (checkIn(i)) {
          const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - due);
          latencies_[at].push_back(static_cast<uint32_t>(took.count()));
          const auto second =
              static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(due - start).count());
          if (worstBySecond_.size() <= second) worstBySecond_.resize(second + 1);
          worstBySecond_[second] = std::max(worstBySecond_[second], static_cast<uint32_t>(took.count()));
        }
      }
    }
  }

  int failures() const { return failures_; }
  size_t answerBytes() const { return answerBytes_; }
  std::vector<uint32_t>& latencies(Stage stage) { return latencies_[stage]; }
  /** The slowest check-in (microseconds) due in each second since the fleet started. */
  const std::vector<uint32_t>& worstBySecond() const { return worstBySecond_; }
  /** When the last of this connection's agents first reported a bundle other than the first. */
  Steady::time_point lastAdoption() const { return lastAdoption_; }

  /** What each agent was last acknowledged for: when it sent that check-in (unix seconds) and
   *  which fingerprints it reported. */
  struct Acknowledged {
    int agent;
    int64_t sentAt;
    const std::vector<std::string>* trusted;  // null: never acknowledged
  };
  template <typename Fn>
  void forEachAcknowledged(Fn&& fn) const {
    for (size_t i = 0; i < ids_.size(); ++i) {
      const AgentState& a = agents_[i];
      fn(Acknowledged{ids_[i], a.ackedSentAt, a.acked < 0 ? nullptr : &bundles_[a.acked].fingerprints});
    }
  }

private:
  struct Bundle {
    std::string etag;
    std::vector<std::string> fingerprints;
    std::string trustedJson;
  };
  struct AgentState {
    int16_t bundle = -1;  // index in bundles_ of what it holds
    int16_t acked = -1;   // what its last acknowledged check-in reported
    int64_t ackedSentAt = 0;
  };

  bool connect() {
    stream_.emplace(io_, tls_);
    beast::error_code error;
    beast::get_lowest_layer(*stream_).connect({asio::ip::make_address("127.0.0.1"), target_.port}, error);
    if (!error) stream_->handshake(asio::ssl::stream_base::client, error);
    return !error;
  }

  std::optional<http::response<http::string_body>> send(http::verb verb, const std::string& target,
                                                        const std::string& token, std::string body,
                                                        const std::string& etag) {
    if (!stream_ && !connect()) return std::nullopt;
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + token);
    if (!etag.empty()) req.set(http::field::if_none_match, etag);
    if (verb == http::verb::put) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
      req.prepare_payload();
    }
    beast::error_code error;
    http::response<http::string_body> res;
    http::write(*stream_, req, error);
    if (!error) http::read(*stream_, buffer_, res, error);
    if (error || res.need_eof()) stream_.reset();  // the next request connects again
    if (error) return std::nullopt;
    return res;
  }

  int16_t bundleIndex(const std::string& etag, const std::string& pem) {
    for (size_t b = 0; b < bundles_.size(); ++b) {
      if (bundles_[b].etag == etag) return static_cast<int16_t>(b);
    }
    Bundle bundle{etag, {}, "["};
    const std::vector<pki::Certificate> cas = pki::parsePemBundle(pem).value();
    for (const pki::Certificate& ca : cas) {
      bundle.fingerprints.push_back(ca.fingerprint().toString());
      bundle.trustedJson += (bundle.trustedJson.size() > 1 ? ",\"" : "\"") + bundle.fingerprints.back() + "\"";
    }
    bundle.trustedJson += "]";
    bundles_.push_back(std::move(bundle));
    return static_cast<int16_t>(bundles_.size() - 1);
  }

  bool checkIn(size_t i) {
    AgentState& agent = agents_[i];
    const std::string id = "agent-" + std::to_string(ids_[i]);
    const std::string& token = tokens_[static_cast<size_t>(ids_[i] / kAgentsPerToken)];
    auto bundle = send(http::verb::get, target_.bundlePath(), token, "",
                       agent.bundle < 0 ? "" : bundles_[static_cast<size_t>(agent.bundle)].etag);
    if (bundle && bundle->result() == http::status::ok) {
      agent.bundle = bundleIndex(std::string((*bundle)[http::field::etag]), bundle->body());
    } else if (!bundle || bundle->result() != http::status::not_modified) {
      ++failures_;
      return false;
    }
    const auto sentAt =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const Bundle& holds = bundles_[static_cast<size_t>(agent.bundle)];
    const http::verb verb = target_.nginx ? http::verb::get : http::verb::put;
    auto report =
        send(verb, target_.checkInPath(id), token, "{\"trusted\":" + holds.trustedJson + ",\"version\":\"bench\"}", "");
    if (!report || report->result() != http::status::ok) {
      ++failures_;
      return false;
    }
    answerBytes_ = report->body().size();
    if (agent.acked == 0 && agent.bundle > 0) lastAdoption_ = Steady::now();
    agent.acked = agent.bundle;
    agent.ackedSentAt = sentAt;
    return true;
  }

  asio::io_context io_;
  asio::ssl::context& tls_;
  std::optional<asio::ssl::stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  Target target_;
  const std::vector<std::string>& tokens_;
  int index_;
  int connections_;
  std::vector<int> ids_;
  std::vector<AgentState> agents_;
  std::vector<Bundle> bundles_;
  std::vector<uint32_t> latencies_[kStages];
  std::vector<uint32_t> worstBySecond_;
  Steady::time_point lastAdoption_{};
  size_t answerBytes_ = 0;
  int failures_ = 0;
};

/** A fleet of connections running on threads of their own until stopped. */
class Fleet {
public:
  Fleet(asio::ssl::context& tls, Target target, const std::vector<std::string>& tokens, int connections, int agents,
        Steady::duration interval)
      : start_(Steady::now() + std::chrono::milliseconds(200)) {
    for (int c = 0; c < connections; ++c) {
      connections_.push_back(std::make_unique<FleetConnection>(tls, target, tokens, c, connections, agents));
    }
    for (auto& connection : connections_) {
      threads_.emplace_back([this, interval, c = connection.get()] { c->run(start_, interval, stop_, stage_); });
    }
  }
  ~Fleet() { stop(); }

  Steady::time_point start() const { return start_; }
  void enter(Stage stage) { stage_ = stage; }
  void stop() {
    stop_ = true;
    threads_.clear();
  }
  int failures() const {
    int n = 0;
    for (const auto& c : connections_) n += c->failures();
    return n;
  }
  std::vector<uint32_t> latencies(Stage stage) const {
    std::vector<uint32_t> all;
    for (const auto& c : connections_) all.insert(all.end(), c->latencies(stage).begin(), c->latencies(stage).end());
    return all;
  }
  /** The slowest check-in (microseconds) due in each second since the fleet started. */
  std::vector<uint32_t> worstBySecond() const {
    std::vector<uint32_t> worst;
    for (const auto& c : connections_) {
      const std::vector<uint32_t>& mine = c->worstBySecond();
      if (worst.size() < mine.size()) worst.resize(mine.size());
      for (size_t i = 0; i < mine.size(); ++i) worst[i] = std::max(worst[i], mine[i]);
    }
    return worst;
  }
  Steady::time_point lastAdoption() const {
    Steady::time_point last{};
    for (const auto& c : connections_) last = std::max(last, c->lastAdoption());
    return last;
  }
  const std::vector<std::unique_ptr<FleetConnection>>& connections() const { return connections_; }

private:
  Steady::time_point start_;
  std::atomic<bool> stop_{false};
  std::atomic<int> stage_{kRegistering};
  std::vector<std::unique_ptr<FleetConnection>> connections_;
  std::vector<std::jthread> threads_;
};

struct Phase {
  std::string name;
  int64_t revision = 0;
};

Phase observe(store::local::LocalStore& store) {
  auto r = store.getRotation({"default", "fleet"});
  if (!r.ok()) return {};
  return {std::string(api::phaseName(r->status.phase)), r->status.revision};
}

/** Lost check-ins: agents whose stored record is missing, older than the last check-in the API
 *  acknowledged to them, or holds another trust set. */
struct LostCheckIns {
  long missing = 0, older = 0, otherTrust = 0, acknowledged = 0;
  long total() const { return missing + older + otherTrust; }
};

LostCheckIns compareWithRegistry(const Fleet& fleet, store::Store& store, int agents) {
  std::vector<std::optional<store::AgentRecord>> stored(static_cast<size_t>(agents));
  (void)store.visitAgents({"default", "fleet"}, [&](const store::AgentRecord& r) {
    const int n = std::stoi(r.id.substr(r.id.find('-') + 1));
    if (n >= 0 && n < agents) stored[static_cast<size_t>(n)] = r;
  });
  LostCheckIns lost;
  for (const auto& connection : fleet.connections()) {
    connection->forEachAcknowledged([&](const FleetConnection::Acknowledged& a) {
      if (!a.trusted) return;
      ++lost.acknowledged;
      const auto& record = stored[static_cast<size_t>(a.agent)];
      if (!record) {
        ++lost.missing;
      } else if (std::chrono::duration_cast<std::chrono::seconds>(record->lastSeen.time_since_epoch()).count() <
                 a.sentAt) {
        ++lost.older;
      } else {
        std::vector<std::string> want = *a.trusted, have = record->trusted;
        std::sort(want.begin(), want.end());
        std::sort(have.begin(), have.end());
        if (want != have) ++lost.otherTrust;
      }
    });
  }
  return lost;
}

/** 1000000 -> "1,000,000". */
std::string agentCount(int n) {
  std::string digits = std::to_string(n);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<size_t>(at), ",");
  return digits;
}

std::string milliseconds(double micros) { return format("%.1f", micros / 1000.0); }

/** nginx serving the bundle and the check-in answer as static files, as many workers as cores. */
class Nginx {
public:
  Nginx(const fs::path& dir, uint16_t port, const fs::path& cert, const fs::path& key) {
    fs::create_directories(dir / "tmp");
    writeFile(dir / "nginx.conf",
              format(R"(daemon off;
worker_processes 2;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path %s/tmp;
  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %s;
    ssl_certificate_key %s;
    root %s/root;
  }
}
)",
                     dir.c_str(), dir.c_str(), dir.c_str(), port, cert.c_str(), key.c_str(), dir.c_str()));
    // Started as root, the workers drop to an unprivileged user: let them read the files.
    for (const fs::path& p : {dir, dir / "root"}) fs::permissions(p, fs::perms(0755));
    for (const auto& f : fs::directory_iterator(dir / "root")) fs::permissions(f.path(), fs::perms(0644));
    process_.emplace(std::vector<std::string>{"/usr/sbin/nginx", "-p", dir.string(), "-c",
                                              (dir / "nginx.conf").string(), "-e", (dir / "error.log").string()},
                     dir / "nginx.out");
  }
  pid_t pid() const { return process_->pid(); }

private:
  std::optional<testing::ChildProcess> process_;
};

bool waitForPort(uint16_t port, std::chrono::seconds limit) {
  const auto deadline = Steady::now() + limit;
  while (Steady::now() < deadline) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    beast::error_code error;
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, error);
    if (!error) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: fleet_bench ROTOR_BINARY AGENTS INTERVAL_SECONDS [CONNECTIONS]\n");
    return 2;
  }
  const std::string rotor = fs::absolute(argv[1]);
  const int agents = std::stoi(argv[2]);
  const std::chrono::seconds interval(std::stoi(argv[3]));
  const int connections = argc > 4 ? std::stoi(argv[4]) : 32;
  const double offered = agents / static_cast<double>(interval.count());
  const fs::path dir = fs::temp_directory_path() / ("rotor-fleet-bench-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "api");
  fs::create_directories(dir / "nginx/root");
  const std::string log = (dir / "controller.log").string();

  // The adoption API's certificate, for 127.0.0.1; nginx serves the same one.
  const auto now = std::chrono::system_clock::now();
  const pki::CertificateAuthority apiCa = testing::makeCa("bench API CA", std::chrono::hours(24), {}, now);
  const testing::IssuedLeaf apiLeaf = testing::issueLeaf(apiCa, testing::leafSpec("127.0.0.1"), now);
  writeFile(dir / "api/server.crt", apiLeaf.certificate.toPem());
  writeFile(dir / "api/server.key", apiLeaf.key.toPem());
  writeFile(dir / "rotation.yaml", manifest(agents, interval));
  const auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {rotor, "--local", dir.string()});
    return runMeasured(args, log).exitCode;
  };
  std::vector<std::string> tokens;
  if (cli({"apply", "-f", (dir / "rotation.yaml").string()}) != 0) {
    std::fprintf(stderr, "rotor apply failed; see %s\n", log.c_str());
    return 1;
  }
  for (int t = 0; t * kAgentsPerToken < agents; ++t) {
    const fs::path file = dir / "agent.token";
    if (cli({"token", "fleet", "--file", file.string()}) != 0) {
      std::fprintf(stderr, "rotor token failed; see %s\n", log.c_str());
      return 1;
    }
    tokens.emplace_back();
    std::ifstream(file) >> tokens.back();
    fs::remove(file);
  }

  // ROTOR_BENCH_LOG_LEVEL=debug keeps the controller's log (every reconcile) for a diagnosis.
  const char* level = std::getenv("ROTOR_BENCH_LOG_LEVEL");
  const std::string logLevel = level != nullptr && *level != '\0' ? level : "warn";
  const auto port = static_cast<uint16_t>(testing::freeLoopbackPort());
  std::optional<testing::ChildProcess> controller(
      std::in_place,
      std::vector<std::string>{rotor, "--local", dir.string(), "controller", "--log-level", logLevel, "--adoption-addr",
                               "127.0.0.1:" + std::to_string(port), "--adoption-cert",
                               (dir / "api/server.crt").string(), "--adoption-key", (dir / "api/server.key").string()},
      log);
  RealClock clock;
  auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  const auto waitFor = [&](const std::string& phase, int64_t revision, Steady::duration limit) {
    const auto deadline = Steady::now() + limit;
    while (Steady::now() < deadline) {
      const Phase p = observe(*store);
      if (p.name == phase && p.revision == revision) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  if (!waitFor("Ready", 1, std::chrono::seconds(30)) || !waitForPort(port, std::chrono::seconds(10))) {
    std::fprintf(stderr, "the rotation did not bootstrap; see %s\n", log.c_str());
    return 1;
  }
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.add_certificate_authority(asio::buffer(apiCa.certificate().toPem()));
  tls.set_verify_mode(asio::ssl::verify_peer);

  std::optional<Fleet> fleet(std::in_place, tls, Target{port, false}, tokens, connections, agents, interval);
  std::this_thread::sleep_until(fleet->start() + interval);
  fleet->enter(kSteady);
  const ProcessSample steadyFrom = sampleTree(controller->pid());
  const auto steadyBegan = Steady::now();
  std::this_thread::sleep_until(fleet->start() + 3 * interval);
  const ProcessSample steadyTo = sampleTree(controller->pid());
  const double steadySeconds = secondsSince(steadyBegan);
  fleet->enter(kRotating);

  // The rotation, gated on every agent.
  const auto rotated = Steady::now();
  if (cli({"rotate", "fleet"}) != 0) {
    std::fprintf(stderr, "rotor rotate failed; see %s\n", log.c_str());
    return 1;
  }
  std::optional<Steady::time_point> gateOpened, ready;
  std::string phases;
  Phase last;
  while (!ready && Steady::now() < rotated + 5 * interval + std::chrono::seconds(60)) {
    const Phase p = observe(*store);
    if (p.name != last.name && !(p.name == "Ready" && p.revision == 1))
      phases += format(" %s@%.2fs", p.name.c_str(), secondsSince(rotated));
    if (last.name == "AwaitingAdoption" && p.name != last.name) gateOpened = Steady::now();
    if (p.name == "Ready" && p.revision == 2) ready = Steady::now();
    last = p;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_until(std::max(Steady::now(), rotated + interval));
  const ProcessSample atEnd = sampleTree(controller->pid());
  fleet->stop();
  const Steady::time_point lastAdoption = fleet->lastAdoption();
  std::printf("fleet     %d agents every %llds (%.0f check-ins/s offered, %d connections):%s; %d failed requests\n",
              agents, static_cast<long long>(interval.count()), offered, connections, phases.c_str(),
              fleet->failures());

  // A graceful stop writes the last check-ins; then every acknowledged one must be on disk.
  controller->signal(SIGTERM);
  const std::optional<int> exited = controller->wait(std::chrono::seconds(120));
  controller.reset();
  auto reopened = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  const LostCheckIns lost = compareWithRegistry(*fleet, *reopened, agents);
  std::printf(
      "registry  %ld agents acknowledged; lost: %ld missing, %ld older than acknowledged, %ld another trust set\n",
      lost.acknowledged, lost.missing, lost.older, lost.otherTrust);

  std::vector<uint32_t> steady = fleet->latencies(kSteady);
  std::vector<uint32_t> rotating = fleet->latencies(kRotating);
  const long steadyCount = static_cast<long>(steady.size());
  const double p50 = percentile(steady, 0.5), p99 = percentile(steady, 0.99), rotatingP99 = percentile(rotating, 0.99);
  const double cpu = (steadyTo.cpuSeconds - steadyFrom.cpuSeconds) / steadySeconds;
  const double written = static_cast<double>(steadyTo.writeBytes - steadyFrom.writeBytes) / steadySeconds;
  const double checkInsPerSecond = static_cast<double>(steadyCount) / steadySeconds;
  std::printf(
      "steady    %.0f check-ins/s: latency p50 %s ms p99 %s ms (during the rotation p99 %s ms); controller "
      "%.2f cores, %.0f MB resident (peak %.0f MB), %.2f MB/s written to disk\n",
      checkInsPerSecond, milliseconds(p50).c_str(), milliseconds(p99).c_str(), milliseconds(rotatingP99).c_str(), cpu,
      steadyTo.residentBytes / 1e6, atEnd.peakResidentBytes / 1e6, written / 1e6);
  // Where the rotation's slow check-ins fall: the slowest one due in each 5 s from `rotor rotate`.
  const std::vector<uint32_t> worst = fleet->worstBySecond();
  std::string timeline;
  const auto rotatedSecond =
      static_cast<size_t>(std::chrono::duration_cast<std::chrono::seconds>(rotated - fleet->start()).count());
  for (size_t s = rotatedSecond; s < worst.size(); s += 5) {
    uint32_t w = 0;
    for (size_t i = s; i < std::min(worst.size(), s + 5); ++i) w = std::max(w, worst[i]);
    timeline += format(" +%zus:%s", s - rotatedSecond, milliseconds(w).c_str());
  }
  std::printf("timeline  the slowest check-in due in each 5 s after `rotor rotate`, ms:%s\n", timeline.c_str());
  const int failures = fleet->failures();
  const size_t answerBytes = fleet->connections().front()->answerBytes();
  fleet.reset();

  // The baseline: the same fleet, the same bytes, one interval against nginx.
  const auto webPort = static_cast<uint16_t>(testing::freeLoopbackPort());
  std::ifstream bundleFile(dir / "trust/ca-bundle.pem");
  writeFile(dir / "nginx/root/bundle.pem", std::string((std::istreambuf_iterator<char>(bundleFile)), {}));
  writeFile(dir / "nginx/root/checkin.json", std::string(answerBytes, ' '));
  double nginxCpu = 0;
  std::vector<uint32_t> nginxLatencies;
  int nginxFailures = -1;
  {
    Nginx nginx(dir / "nginx", webPort, dir / "api/server.crt", dir / "api/server.key");
    if (waitForPort(webPort, std::chrono::seconds(10))) {
      Fleet baseline(tls, Target{webPort, true}, tokens, connections, agents, interval);
      baseline.enter(kSteady);
      std::this_thread::sleep_until(baseline.start());
      const ProcessSample from = sampleTree(nginx.pid());
      const auto began = Steady::now();
      std::this_thread::sleep_until(baseline.start() + interval);
      const ProcessSample to = sampleTree(nginx.pid());
      nginxCpu = (to.cpuSeconds - from.cpuSeconds) / secondsSince(began);
      baseline.stop();
      nginxLatencies = baseline.latencies(kSteady);
      nginxFailures = baseline.failures();
    }
  }
  const double nginxP50 = percentile(nginxLatencies, 0.5), nginxP99 = percentile(nginxLatencies, 0.99);
  std::printf("baseline  nginx, the same fleet for one interval: latency p50 %s ms p99 %s ms, %.2f cores; %d failed\n",
              milliseconds(nginxP50).c_str(), milliseconds(nginxP99).c_str(), nginxCpu, nginxFailures);

  if (!ready || !gateOpened || exited != 0 || failures != 0 || lost.total() != 0 || nginxFailures != 0 ||
      lost.acknowledged != agents) {
    std::fprintf(stderr, "FAILED: %s%s%s%s%s%s(state and logs kept in %s)\n",
                 ready ? "" : "the rotation did not end Ready; ",
                 exited == 0 ? "" : "the controller did not stop cleanly; ",
                 failures == 0 ? "" : "requests to the adoption API failed; ",
                 lost.total() == 0 && lost.acknowledged == agents ? "" : "check-ins were lost; ",
                 nginxFailures == 0 ? "" : "the nginx baseline failed; ", gateOpened ? "" : "the gate was not seen; ",
                 dir.c_str());
    return 1;
  }
  const double gateAfterLastAdoption = std::chrono::duration<double>(*gateOpened - lastAdoption).count();
  const std::string fleetName =
      format("%s agents checking in every %llds", agentCount(agents).c_str(), static_cast<long long>(interval.count()));
  row("Fleet, local mode: check-in latency p50 / p99, " + fleetName + format(" (%.0f/s)", offered),
      milliseconds(p50) + " / " + milliseconds(p99) + " ms",
      "nginx serving the same bytes to the same fleet: " + milliseconds(nginxP50) + " / " + milliseconds(nginxP99) +
          " ms",
      format("%.2fx (p99)", p99 / std::max(nginxP99, 1.0)), "p99 <= 50 ms");
  row("Fleet, local mode: controller CPU at steady state, " + fleetName,
      format("%.2f cores (%.0f us per check-in)", cpu, cpu / checkInsPerSecond * 1e6),
      format("nginx at the same load: %.2f cores", nginxCpu), format("%.2fx", cpu / std::max(nginxCpu, 0.01)), "-");
  row("Fleet, local mode: controller resident memory, " + fleetName,
      format("%.0f MB (peak %.0f MB)", steadyTo.residentBytes / 1e6, atEnd.peakResidentBytes / 1e6), "-", "-", "-");
  row("Fleet, local mode: written to disk at steady state, " + fleetName,
      format("%.2f MB/s (%.0f B per check-in)", written / 1e6, written / checkInsPerSecond), "-", "-", "-");
  row("Fleet, local mode: check-ins lost (acknowledged, then not in the registry after a graceful stop)",
      format("0 of %ld agents' last check-ins", lost.acknowledged), "-", "-", "0");
  row("Fleet, local mode: the last agent adopting -> the gate opening, " + fleetName,
      format("%.0f ms", gateAfterLastAdoption * 1000), "-", "-", "-");
  const double delays = std::chrono::duration<double>(kConfiguredDelays).count();
  const double total = std::chrono::duration<double>(*ready - rotated).count();
  row("Rotation latency: a CA rotation gated on " + fleetName, format("%.2f s", total),
      format("configured delays: %.0f s", delays),
      format("%.2f intervals beyond them", (total - delays) / static_cast<double>(interval.count())), "<= 3 intervals");
  if (logLevel == "warn") {
    fs::remove_all(dir);
  } else {
    std::printf("log       the controller's log is kept in %s\n", log.c_str());
  }
  return 0;
}
