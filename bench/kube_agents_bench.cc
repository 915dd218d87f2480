// Agent records in Kubernetes mode at scale: what a fleet costs the API server, and how soon a new
// leader serves the adoption gate, against the fake API server over HTTPS or a real one
// (ROTOR_BENCH_KUBECONFIG).
//
// The controller's own registry and Kubernetes store persist the check-ins of AGENTS agents with
// UUID ids, each checking in once per INTERVAL seconds, flushed every FLUSH seconds, on a fake
// clock: time passes at once and every API request is real. Phases: registration (one interval
// of new agents), steady state (six intervals: every agent present, nothing new, so one refresh
// of last-seen times falls in it), adoption (one interval in which every agent comes to trust a
// new CA). Every request and its bytes (both ways) are counted at the transport.
//
// Failover: a second store and registry, as a newly elected leader builds them, load every record
// and tally the gate; timed in real time and compared with the first registry's tally.
//   kube_agents_bench [AGENTS] [INTERVAL] [FLUSH]   (default 1000000 60 10, rotor controller's
//   flush interval in a cluster)
#include <atomic>
#include <cstdio>
#include <random>

#include "bench/bench_cluster.h"
#include "bench/bench_util.h"
#include "controller/adoption/registry.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/fake_clock.h"

using namespace rotor;
using namespace rotor::bench;

namespace {

std::vector<std::string> uuidIds(int n) {
  std::mt19937_64 random(42);
  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const uint64_t a = random(), b = random();
    ids.push_back(format("%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                         static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                         static_cast<unsigned>(b >> 52), static_cast<unsigned long long>(b & 0xffffffffffffULL)));
  }
  return ids;
}

struct Traffic {
  uint64_t requests = 0, bytes = 0;
  double simulatedSeconds = 0, realSeconds = 0;
};

void must(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.message().c_str());
  std::exit(1);
}
template <typename T>
void must(const StatusOr<T>& s, const char* what) {
  must(s.ok() ? Status() : s.status(), what);
}

}  // namespace

int main(int argc, char** argv) {
  const int agents = argc > 1 ? std::atoi(argv[1]) : 1000000;
  const int interval = argc > 2 ? std::atoi(argv[2]) : 60;
  const int flushEvery = argc > 3 ? std::atoi(argv[3]) : 10;
  if (agents < interval || interval < 1 || flushEvery < 1) {
    std::fprintf(stderr, "usage: kube_agents_bench [AGENTS >= INTERVAL] [INTERVAL] [FLUSH]\n");
    return 2;
  }
  BenchCluster cluster;
  auto created = cluster.client().create(kube::kRotations, cluster.ns, pausedRotation(0, cluster.ns));
  must(created, "creating the rotation");
  const api::ObjectKey key{cluster.ns, (*created)["metadata"]["name"].get<std::string>()};

  auto config = kube::loadKubeconfig(cluster.kubeconfig());
  must(config, "kubeconfig");
  auto https = kube::makeHttpsTransport(*config);
  must(https, "transport");
  CountingTransport counted(**https);
  kube::Client client(counted);
  testing::FakeClock clock;
  store::kube::KubeStore kubeStore(client, clock);
  adoption::AgentRegistry registry(kubeStore, kubeStore, clock);
  const std::vector<std::string> ids = uuidIds(agents);
  const std::vector<std::string> oldCa = {"sha256:" + std::string(64, 'a')};
  const std::vector<std::string> bothCas = {"sha256:" + std::string(64, 'a'), "sha256:" + std::string(64, 'b')};

  // One interval of check-ins: agent i at second i * interval / agents, a flush every FLUSH seconds.
  const auto runInterval = [&](const std::vector<std::string>& trusted, Traffic& traffic) {
    const uint64_t requests = counted.requests, bytes = counted.bytes;
    const auto began = std::chrono::steady_clock::now();
    size_t next = 0;
    for (int second = 0; second < interval; ++second) {
      const size_t until =
          static_cast<size_t>(agents) * static_cast<size_t>(second + 1) / static_cast<size_t>(interval);
      for (; next < until; ++next) must(registry.checkIn(key, {ids[next], trusted, "1.4.0"}), "check-in");
      clock.advance(std::chrono::seconds(1));
      if ((second + 1) % flushEvery == 0) must(registry.flush(), "flush");
    }
    traffic.requests += counted.requests - requests;
    traffic.bytes += counted.bytes - bytes;
    traffic.simulatedSeconds += interval;
    traffic.realSeconds += secondsSince(began);
  };
  Traffic registration, steady, adoption;
  runInterval(oldCa, registration);
  for (int i = 0; i < 6; ++i) runInterval(oldCa, steady);
  runInterval(bothCas, adoption);
  must(registry.flush(adoption::AgentRegistry::Persist::kEverything), "final flush");

  // What is stored: shards and their sizes.
  auto shards = cluster.client().list(kube::kConfigMaps, cluster.ns,
                                      {.labelSelector = "rotor.dev/rotation=" + key.name + ",rotor.dev/part=agents"});
  must(shards, "listing shards");
  size_t storedBytes = 0, largest = 0;
  for (const json& shard : shards->items) {
    const size_t size = shard.value("/binaryData/agents.v2"_json_pointer, std::string()).size() * 3 / 4;
    storedBytes += size;
    largest = std::max(largest, size);
  }

  // Failover: a new leader's store and registry load everything and tally the gate.
  const store::TallyQuery query{bothCas[1], clock.now(), std::chrono::hours(24)};
  auto expected = registry.tally(key, query);
  must(expected, "tally");
  auto freshTransport = kube::makeHttpsTransport(*config);
  must(freshTransport, "transport");
  kube::Client freshClient(**freshTransport);
  store::kube::KubeStore freshStore(freshClient, clock);
  adoption::AgentRegistry successor(freshStore, freshStore, clock);
  const auto began = std::chrono::steady_clock::now();
  must(successor.loadAll(), "loading the registry");
  auto tally = successor.tally(key, query);
  must(tally, "tally");
  const double failoverSeconds = secondsSince(began);
  if (tally->active != expected->active || tally->adopted != expected->adopted || tally->active != agents) {
    std::fprintf(stderr, "the successor's gate differs: %lld/%lld adopted, expected %lld/%lld of %d\n",
                 static_cast<long long>(tally->adopted), static_cast<long long>(tally->active),
                 static_cast<long long>(expected->adopted), static_cast<long long>(expected->active), agents);
    return 1;
  }

  const double per100k = 100000.0 / agents;
  const auto rate = [&](const Traffic& t) {
    return format("%.1f KB/s, %.2f requests/s", t.bytes / t.simulatedSeconds / 1000 * per100k,
                  t.requests / t.simulatedSeconds * per100k);
  };
  const char* server = cluster.real() ? "the real API server" : "the fake API server";
  std::printf(
      "agents    %d agents every %d s, flushed every %d s, against %s: %zu shards, %.1f MB stored (%.1f B/agent, "
      "largest shard %.0f KiB)\n",
      agents, interval, flushEvery, server, shards->items.size(), storedBytes / 1e6,
      static_cast<double>(storedBytes) / agents, largest / 1024.0);
  std::printf("          per 100,000 agents: registration %s; steady state %s; adoption %s\n",
              rate(registration).c_str(), rate(steady).c_str(), rate(adoption).c_str());
  std::printf(
      "          real time: registration %.1f s, steady state %.1f s, adoption %.1f s; failover: registry "
      "loaded and gate tallied in %.2f s (%lld of %lld adopted, as before)\n",
      registration.realSeconds, steady.realSeconds, adoption.realSeconds, failoverSeconds,
      static_cast<long long>(tally->adopted), static_cast<long long>(tally->active));
  const std::string where = format("Kubernetes mode (%s), %d agents", server, agents);
  const double steadyRate = steady.bytes / steady.simulatedSeconds * per100k;
  // The steady state holds one refresh of last-seen times: its floor is every record written once
  // in that time, in base64 as binaryData travels, and sent back in the answer as a PUT's is.
  const double writtenOnce = static_cast<double>(storedBytes) * 4 / 3 * 2;
  const double everyRecordOnce = writtenOnce / steady.simulatedSeconds * per100k;
  row(where + ": API traffic at steady state per 100,000 agents (bytes both ways / requests)",
      format("%.1f KB/s / %.2f req/s", steadyRate / 1000, steady.requests / steady.simulatedSeconds * per100k),
      format("every record written once per refresh: %.1f KB/s", everyRecordOnce / 1000),
      format("%.2fx", steadyRate / everyRecordOnce), "-");
  row(where + ": API traffic while every agent adopts a CA in one interval, per 100,000 agents",
      format("%.0f KB/s / %.1f req/s", adoption.bytes / adoption.simulatedSeconds / 1000 * per100k,
             adoption.requests / adoption.simulatedSeconds * per100k),
      format("every record written once per %d s flush: %.0f KB/s", flushEvery,
             writtenOnce / flushEvery / 1000 * per100k),
      format("%.2fx", adoption.bytes / adoption.simulatedSeconds / (writtenOnce / flushEvery)), "-");
  row(where + ": failover, a new leader's registry loaded and gate tallied", format("%.2f s", failoverSeconds),
      format("one interval of check-ins: %d s", interval), format("%.3fx", failoverSeconds / interval), "<= 10 s");
  return 0;
}
