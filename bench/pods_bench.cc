// Agentless adoption at scale: what counting consumer pods costs the controller, against the fake
// API server over HTTPS or a real one (ROTOR_BENCH_KUBECONFIG). PODS pods that mount a bundle run
// in NAMESPACES namespaces. The controller's way (store/kube/pod_watch: one watch of every pod,
// kept as compact summaries, a tally per reconcile from memory) is set against the obvious way, a
// LIST of the same pods each time the gate is evaluated, measured in the same run:
//   - CPU per gate evaluation: a tally of the summaries vs one LIST (what `--once` does);
//   - controller memory: resident bytes the summaries add, per pod, vs the LIST's bytes per pod;
//   - watch traffic while 1% of the pods restart (delete, create, run), vs one LIST's bytes;
//   - the watch's first sync (list and summarise) vs one LIST.
//   pods_bench [PODS] [NAMESPACES]   (default 10000 100)
#include <malloc.h>

#include <cstdio>
#include <thread>

#include "bench/bench_cluster.h"
#include "bench/bench_util.h"
#include "controller/store/kube/pod_watch.h"
#include "tests/support/kube_objects.h"

using namespace rotor;
using namespace rotor::bench;

namespace {

void must(const Status& s, const std::string& what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

constexpr char kBundle[] = "shop-ca";

/** Creates pod `name` in `ns` and reports it running since `started`, as a kubelet would. */
void runPod(kube::Client& client, const std::string& ns, const std::string& name, SystemTime started) {
  json pod = testing::consumerPodObject(name, kBundle);
  pod["metadata"]["labels"] = {{"app", name.substr(0, name.rfind('-'))}};
  auto created = client.create(kube::kPods, ns, pod);
  must(created.status(), "pod " + name);
  (*created)["status"] = testing::runningPodStatus(*created, started);
  must(client.updateStatus(kube::kPods, ns, *created).status(), "status of pod " + name);
}

}  // namespace

int main(int argc, char** argv) {
  const int pods = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int namespaces = argc > 2 ? std::atoi(argv[2]) : 100;
  BenchCluster cluster;
  kube::Client& admin = cluster.client();
  std::vector<std::string> names;
  for (int n = 0; n < namespaces; ++n) {
    names.push_back(format("%s-p%03d", cluster.ns.c_str(), n));
    auto made = admin.create(kube::kNamespaces, "",
                             {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", names.back()}}}});
    if (made.status().code() != Code::kAlreadyExists) must(made.status(), "namespace " + names.back());
  }
  const SystemTime before = std::chrono::system_clock::now() - std::chrono::hours(1);
  const auto setUp = std::chrono::steady_clock::now();
  for (int i = 0; i < pods; ++i) {
    runPod(admin, names[static_cast<size_t>(i % namespaces)], format("app%d-%d", i % 10, i), before);
  }
  std::printf("%d running pods in %d namespaces created in %.1f s\n", pods, namespaces, secondsSince(setUp));

  // The baseline: one LIST of every pod, as a gate evaluation without a watch would make.
  auto transport = kube::makeHttpsTransport(kube::loadKubeconfig(cluster.kubeconfig()).value()).value();
  CountingTransport counting(*transport);
  kube::Client client(counting);
  double listCpu = 1e9;
  uint64_t listBytes = 0;
  for (int round = 0; round < 3; ++round) {  // the best of three: the baseline at its cheapest
    const double cpu = cpuSeconds();
    const uint64_t bytes = counting.bytes;
    size_t listed = 0;
    must(client.listEach(kube::kPods, "", {}, [&](json&) { ++listed; }).status(), "LIST pods");
    listCpu = std::min(listCpu, cpuSeconds() - cpu);
    listBytes = counting.bytes - bytes;
    if (listed < static_cast<size_t>(pods)) {
      std::fprintf(stderr, "listed %zu pods, expected at least %d\n", listed, pods);
      return 1;
    }
  }

  // rotor's way: the watch's first sync, then tallies from memory.
  std::atomic<int> wakes{0};
  malloc_trim(0);  // what earlier lists freed is not counted as the summaries'
  const long rssBefore = residentBytes();
  double cpu = cpuSeconds();
  const auto syncStart = std::chrono::steady_clock::now();
  store::kube::PodWatch watch(
      client, [&](const api::ObjectKey&) { ++wakes; }, nullptr);
  watch.rotationChanged("ADDED", {{"metadata", {{"namespace", names[0]}, {"name", "shop"}}},
                                  {"spec", {{"adoption", {{"pods", json::object()}}}}}});
  store::kube::ConsumerQuery query{std::string("ConfigMap/") + kBundle,
                                   {names.begin(), names.end()},
                                   std::nullopt,
                                   std::nullopt,
                                   {"", std::chrono::system_clock::now()}};
  StatusOr<store::PodTally> tally = unavailable("not yet");
  while (!(tally = watch.tally(query)).ok()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double syncCpu = cpuSeconds() - cpu;
  const double syncSeconds = secondsSince(syncStart);
  malloc_trim(0);  // nor what the watch's list pages held for a moment
  const long indexBytes = residentBytes() - rssBefore;
  if (tally->running != pods || tally->adopted != 0) {
    std::fprintf(stderr, "tally: %lld running, %lld adopted; expected %d and 0\n",
                 static_cast<long long>(tally->running), static_cast<long long>(tally->adopted), pods);
    return 1;
  }
  const int tallies = 200;
  cpu = cpuSeconds();
  for (int i = 0; i < tallies; ++i) tally = watch.tally(query);
  const double tallyCpu = (cpuSeconds() - cpu) / tallies;
  std::printf("first sync %.2f s (%.3f s CPU); a tally of %d pods: %.3f ms CPU; %d wakes\n", syncSeconds, syncCpu, pods,
              tallyCpu * 1e3, wakes.load());

  // 1% of the pods restart with the new bundle: each is deleted and created again, then runs.
  const uint64_t streamedBefore = counting.streamedBytes;
  const int restarted = std::max(1, pods / 100);
  const SystemTime after = std::chrono::system_clock::now() + std::chrono::seconds(1);
  query.adoption.bundleSince = truncateToSeconds(after);
  for (int i = 0; i < restarted; ++i) {
    const std::string& ns = names[static_cast<size_t>(i % namespaces)];
    const std::string name = format("app%d-%d", i % 10, i);
    must(admin.remove(kube::kPods, ns, name), "delete pod " + name);
    runPod(admin, ns, name, after);
  }
  for (int i = 0; i < 600; ++i) {
    tally = watch.tally(query);
    if (tally.ok() && tally->adopted == restarted && tally->running == pods) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!tally.ok() || tally->adopted != restarted || tally->running != pods) {
    std::fprintf(stderr, "after the restarts the tally did not show %d adopted of %d\n", restarted, pods);
    return 1;
  }
  const uint64_t watchBytes = counting.streamedBytes - streamedBefore;

  const std::string where = cluster.real() ? "real API server" : "fake API server";
  const std::string size = format("%d pods in %d namespaces", pods, namespaces);
  row(where + ": CPU per gate evaluation, " + size + " (tally of the watch's summaries vs one LIST)",
      format("%.3f ms", tallyCpu * 1e3), format("%.1f ms", listCpu * 1e3), format("%.4f×", tallyCpu / listCpu),
      "≤ 0.1×");
  row(where + ": controller memory per pod (summaries kept vs one LIST's bytes)",
      format("%.0f B", static_cast<double>(indexBytes) / pods), format("%.0f B", static_cast<double>(listBytes) / pods),
      format("%.2f×", static_cast<double>(indexBytes) / static_cast<double>(listBytes)), "≤ 1×");
  row(where + ": watch traffic while 1% of the pods restart (vs one LIST)", format("%.0f KB", watchBytes / 1e3),
      format("%.0f KB", listBytes / 1e3),
      format("%.3f×", static_cast<double>(watchBytes) / static_cast<double>(listBytes)), "≤ 0.1×");
  row(where + ": the watch's first sync, CPU (vs one LIST)", format("%.0f ms", syncCpu * 1e3),
      format("%.0f ms", listCpu * 1e3), format("%.2f×", syncCpu / listCpu), "≤ 2×");
  if (cluster.real()) {
    for (const std::string& ns : names) (void)admin.remove(kube::kNamespaces, "", ns);
  }
  return 0;
}
