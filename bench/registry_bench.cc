// Agent registry at scale: memory per agent, flush cost and restart recovery, at N agents
// (default 1,000,000). Baseline for memory: the same ids in a plain std::unordered_set.
//   registry_bench [N] [STATE_DIR]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_set>

#include "bench/bench_util.h"
#include "controller/adoption/registry.h"
#include "controller/common/clock.h"
#include "controller/store/local/local_store.h"

using namespace rotor;
using rotor::bench::residentBytes;
using rotor::bench::secondsSince;

namespace {

std::string fingerprint(char digit) { return "sha256:" + std::string(64, digit); }

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const std::filesystem::path dir =
      argc > 2 ? argv[2] : std::filesystem::temp_directory_path() / "rotor-registry-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RealClock clock;
  auto store = std::move(store::local::LocalStore::open({.root = dir}, clock)).value();
  api::CertificateRotation r;
  r.metadata.name = "fleet";
  r.spec.certificate.commonName = "fleet.example.com";
  api::ServerSpec server;
  server.name = "a";
  server.certFile = "a.crt";
  server.keyFile = "a.key";
  r.spec.servers.push_back(server);
  r.spec.ca.generate = api::CaGenerateSpec{"Fleet CA", std::chrono::hours(24 * 365), {}};
  r.spec.trustBundle.file = "bundle.pem";
  const api::ObjectKey key = std::move(store->applyRotation(r)).value().key();

  const long base = residentBytes();
  adoption::AgentRegistry registry(*store, *store, clock);
  const std::vector<std::string> oldOnly = {fingerprint('1')};
  const std::vector<std::string> both = {fingerprint('1'), fingerprint('2')};
  auto t = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    (void)registry.checkIn(key, {"agent-" + std::to_string(i), i % 3 ? both : oldOnly, i % 2 ? "2.4.1" : "2.5.0"});
  }
  const double checkInSeconds = secondsSince(t);
  const double perAgent = static_cast<double>(residentBytes() - base) / static_cast<double>(n);
  std::printf("registry  %zu agents: %.0f bytes/agent (target <= 200), %.0f check-ins/s in process\n", n, perAgent,
              static_cast<double>(n) / checkInSeconds);
  std::fflush(stdout);  // the child must not print the parent's buffer again
  // Baseline in a child process, so that neither measurement reuses the other's freed pages.
  if (pid_t child = fork(); child == 0) {
    const long start = residentBytes();
    std::unordered_set<std::string> ids;
    for (size_t i = 0; i < n; ++i) ids.insert("agent-" + std::to_string(i));
    const double setPerAgent = static_cast<double>(residentBytes() - start) / static_cast<double>(n);
    std::printf("baseline  the same ids in a std::unordered_set: %.0f bytes/agent (registry/baseline = %.2fx)\n",
                setPerAgent, perAgent / setPerAgent);
    std::printf(
        "ROW | Adoption registry: memory per agent, %zu agents | %.0f B | the same ids in a "
        "std::unordered_set<std::string>: %.0f B | %.2fx | <= 200 B |\n",
        n, perAgent, setPerAgent, perAgent / setPerAgent);
    std::fflush(stdout);
    _exit(0);
  } else {
    int status = 0;
    waitpid(child, &status, 0);
  }
  // The adoption gate's pass over every agent, against counting the records one by one as they
  // are visited (how the gate counted before the registry counted its compact entries). Best of 3.
  const store::TallyQuery query{fingerprint('2'), clock.now(), std::chrono::hours(1)};
  double compactSeconds = 1e9, recordSeconds = 1e9;
  api::AdoptionStatus compact, byRecord;
  for (int round = 0; round < 3; ++round) {
    t = std::chrono::steady_clock::now();
    compact = registry.tally(key, query).value();
    compactSeconds = std::min(compactSeconds, secondsSince(t));
    t = std::chrono::steady_clock::now();
    store::AdoptionCounter counter(query);
    (void)registry.visit(key, [&](const store::AgentRecord& a) { counter.add(a); });
    byRecord = counter.result();
    recordSeconds = std::min(recordSeconds, secondsSince(t));
  }
  if (compact != byRecord || compact.adopted != static_cast<int64_t>(n - (n + 2) / 3)) {
    std::fprintf(stderr, "the tallies disagree: %lld/%lld adopted against %lld/%lld\n",
                 static_cast<long long>(compact.adopted), static_cast<long long>(compact.active),
                 static_cast<long long>(byRecord.adopted), static_cast<long long>(byRecord.active));
    return 1;
  }
  std::printf("tally     %zu agents: %.1f ms (record by record: %.1f ms)\n", n, compactSeconds * 1e3,
              recordSeconds * 1e3);
  std::printf(
      "ROW | Adoption registry: the gate's tally of %zu agents | %.1f ms | each record built and counted: %.1f ms "
      "| %.2fx | - |\n",
      n, compactSeconds * 1e3, recordSeconds * 1e3, compactSeconds / recordSeconds);
  t = std::chrono::steady_clock::now();
  if (Status s = registry.flush(); !s.ok()) {
    std::fprintf(stderr, "flush failed: %s\n", s.message().c_str());
    return 1;
  }
  const auto journalBytes = std::filesystem::file_size(dir / ".rotor/agents/default/fleet.agents");
  std::printf("flush     %zu records to the journal: %.2f s (%.1f MB)\n", n, secondsSince(t),
              static_cast<double>(journalBytes) / 1e6);
  adoption::AgentRegistry restarted(*store, *store, clock);
  t = std::chrono::steady_clock::now();
  if (Status s = restarted.loadAll(); !s.ok()) {
    std::fprintf(stderr, "recovery failed: %s\n", s.message().c_str());
    return 1;
  }
  const double recovery = secondsSince(t);
  std::printf("recovery  %zu agents after a restart: %.2f s (target <= 2 s)\n", restarted.agentCount(), recovery);
  std::printf("ROW | Adoption registry: restart recovery, %zu agents (%.0f MB journal) | %.2f s | - | - | <= 2 s |\n",
              n, static_cast<double>(journalBytes) / 1e6, recovery);
  std::filesystem::remove_all(dir);
  return restarted.agentCount() == n ? 0 : 1;
}
