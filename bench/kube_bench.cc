// Kubernetes mode at scale, against the fake API server over HTTPS on 127.0.0.1, or against a real
// one when ROTOR_BENCH_KUBECONFIG names an admin's kubeconfig (in a namespace of its own, removed
// at the end).
//
// This process serves the fake and writes; a child forked before any thread starts is the
// controller: rotor's HTTPS transport, Client, KubeStore, the rotations Reflector and the Manager
// with one worker, as `rotor controller` wires them. The rotations are paused, so that the
// controller lists, watches and reconciles them without issuing anything.
//
// Figures per N: the controller's resident memory once it has listed, watched and reconciled all N
// (against the same process before it started); then EVENTS annotation changes, one every 10 ms,
// each timed from the API server's answer to the write until (a) the watch event reaches the
// controller — the floor any watch-based controller pays — and (b) a reconcile of that rotation
// starts.
//   kube_bench [EVENTS] [N...]   (default 300 events; 1000 10000 rotations)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/bench_cluster.h"
#include "bench/bench_util.h"
#include "controller/api/json_codec.h"
#include "controller/kube/reflector.h"
#include "controller/manager/manager.h"
#include "controller/store/forwarding_store.h"
#include "controller/store/kube/kube_store.h"
#include "tests/support/fake_cluster.h"

using namespace rotor;
using namespace rotor::bench;
using json = nlohmann::json;

namespace {

constexpr const char* kSequenceAnnotation = "bench.rotor.dev/sequence";

int64_t monotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void writeAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, p, size);
    if (n <= 0) _exit(3);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void readAll(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n <= 0) _exit(3);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

/** When each numbered change reached the controller, and when a reconcile of it started. */
class Timeline {
public:
  explicit Timeline(int events) : seen_(events, 0), started_(events, 0) {}

  void seen(const api::ObjectKey& key, int sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    if (sequence < 0 || sequence >= static_cast<int>(seen_.size()) || seen_[sequence] != 0) return;
    seen_[sequence] = monotonicNanos();
    waiting_[key] = sequence;
  }
  void reconcileStarts(const api::ObjectKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = waiting_.find(key); it != waiting_.end()) {
      started_[it->second] = monotonicNanos();
      waiting_.erase(it);
    }
  }
  std::vector<int64_t> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::vector<int64_t> started() const {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

private:
  mutable std::mutex mu_;
  std::vector<int64_t> seen_, started_;
  std::map<api::ObjectKey, int> waiting_;
};

/** The Store the manager sees: the KubeStore, noting when the Driver's first read of a key happens. */
class TimedStore final : public store::ForwardingStore {
public:
  TimedStore(store::Store& inner, Timeline& timeline) : ForwardingStore(inner), timeline_(timeline) {}
  StatusOr<api::CertificateRotation> getRotation(const api::ObjectKey& key) override {
    timeline_.reconcileStarts(key);
    return ForwardingStore::getRotation(key);
  }

private:
  Timeline& timeline_;
};

/** Counts reconciles, so that the child knows when the first pass is over. */
class Counting final : public manager::ReconcileObserver {
public:
  void reconciled(const api::ObjectKey&, const StatusOr<reconcilers::ReconcileResult>& result,
                  std::chrono::nanoseconds) override {
    (result.ok() ? ok : failed)++;
  }
  std::atomic<int> ok{0}, failed{0};
};

struct ControllerReport {
  long residentBefore = 0;
  long residentSynced = 0;
  double syncSeconds = 0;
  int failedReconciles = 0;
};

/** What the writer tells the controller child: where the API server is, and the namespace. */
struct Target {
  char kubeconfig[512] = {};
  char ns[64] = {};
};

/** The controller side, in the forked child: reads the Target, reports through `out`. */
[[noreturn]] void runController(int in, int out, int n, int events) {
  Target target;
  readAll(in, &target, sizeof target);
  const char* path = target.kubeconfig;
  const std::string ns = target.ns;
  ControllerReport report;
  report.residentBefore = residentBytes();
  auto config = kube::loadKubeconfig(path);
  auto transport = kube::makeHttpsTransport(config.value());
  kube::Client client(*transport.value());
  RealClock clock;
  store::kube::KubeStore kubeStore(client, clock);
  Timeline timeline(events);
  TimedStore store(kubeStore, timeline);
  NoProbes prober;
  NoEvents recorder;
  std::ostringstream discarded;
  Logger log(discarded, clock, LogLevel::kError);
  Counting counting;
  std::optional<kube::Reflector> reflector;
  manager::Manager manager({store, clock, prober, recorder}, log,
                           manager::ManagerOptions{.observer = &counting,
                                                   .listKeys = [&reflector]() -> StatusOr<std::vector<api::ObjectKey>> {
                                                     return reflector->keys();
                                                   }});
  reflector.emplace(
      client, kube::kRotations, kube::ReflectorOptions{.ns = ns}, [&](const std::string&, const json& object) {
        const api::ObjectKey key{object["metadata"].value("namespace", ""), object["metadata"].value("name", "")};
        const json& annotations = object["metadata"].value("annotations", json::object());
        if (auto it = annotations.find(kSequenceAnnotation); it != annotations.end()) {
          timeline.seen(key, std::stoi(it->get<std::string>()));
        }
        manager.notifyChanged(key, object["metadata"].value("resourceVersion", ""));  // as rotor controller does
      });
  const auto start = std::chrono::steady_clock::now();
  std::jthread watching([&](std::stop_token stop) { reflector->run(stop); });
  std::jthread loop([&](std::stop_token stop) { manager.run(stop); });
  // Synced: every rotation reconciled once and nothing left in the queue.
  while (!reflector->synced() || counting.ok + counting.failed < n || manager.queue().depth() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  report.syncSeconds = secondsSince(start);
  report.residentSynced = residentBytes();
  report.failedReconciles = counting.failed;
  writeAll(out, &report, sizeof report);
  char done = 0;
  readAll(in, &done, 1);  // the writer has made its changes and waited for them to land
  writeAll(out, timeline.seen().data(), sizeof(int64_t) * events);
  writeAll(out, timeline.started().data(), sizeof(int64_t) * events);
  _exit(0);  // the watch and the loop need not wind down
}

struct Scale {
  int n = 0;
  ControllerReport controller;
  double deliveredP50 = 0, deliveredP99 = 0, startedP50 = 0, startedP99 = 0;  // ms
  int timed = 0, missed = 0;
  bool realServer = false;
};

Scale runScale(int n, int events) {
  int toChild[2], fromChild[2];
  if (pipe(toChild) != 0 || pipe(fromChild) != 0) std::exit(1);
  const pid_t child = fork();  // before this process starts any thread
  if (child == 0) runController(toChild[0], fromChild[1], n, events);

  Scale scale{n};
  BenchCluster cluster;
  const std::string& ns = cluster.ns;
  scale.realServer = cluster.real();
  for (int i = 0; i < n; ++i) {
    if (auto created = cluster.client().create(kube::kRotations, ns, pausedRotation(i, ns)); !created.ok()) {
      std::fprintf(stderr, "creating rotation %d: %s\n", i, created.status().message().c_str());
      std::exit(1);
    }
  }
  Target target;
  std::snprintf(target.kubeconfig, sizeof target.kubeconfig, "%s", cluster.kubeconfig().c_str());
  std::snprintf(target.ns, sizeof target.ns, "%s", ns.c_str());
  writeAll(toChild[1], &target, sizeof target);
  readAll(fromChild[0], &scale.controller, sizeof scale.controller);

  std::vector<int64_t> written(events, 0);
  for (int e = 0; e < events; ++e) {
    char name[32];
    std::snprintf(name, sizeof name, "svc-%05d", (e * 7919) % n);  // spread over the rotations
    const json patch = {{"metadata", {{"annotations", {{kSequenceAnnotation, std::to_string(e)}}}}}};
    if (!cluster.client().patch(kube::kRotations, ns, name, kube::PatchType::kMerge, patch).ok()) std::exit(1);
    written[e] = monotonicNanos();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const char done = 1;
  writeAll(toChild[1], &done, 1);
  std::vector<int64_t> seen(events), started(events);
  readAll(fromChild[0], seen.data(), sizeof(int64_t) * events);
  readAll(fromChild[0], started.data(), sizeof(int64_t) * events);
  waitpid(child, nullptr, 0);
  for (int fd : {toChild[0], toChild[1], fromChild[0], fromChild[1]}) close(fd);
  std::vector<double> deliveredMs, startedMs;
  for (int e = 0; e < events; ++e) {
    if (seen[e] == 0 || started[e] == 0) {
      ++scale.missed;
      continue;
    }
    deliveredMs.push_back(static_cast<double>(seen[e] - written[e]) / 1e6);
    startedMs.push_back(static_cast<double>(started[e] - written[e]) / 1e6);
  }
  scale.timed = static_cast<int>(startedMs.size());
  scale.deliveredP50 = percentile(deliveredMs, 0.5);
  scale.deliveredP99 = percentile(deliveredMs, 0.99);
  scale.startedP50 = percentile(startedMs, 0.5);
  scale.startedP99 = percentile(startedMs, 0.99);
  return scale;
}

}  // namespace

int main(int argc, char** argv) {
  const int events = argc > 1 ? std::stoi(argv[1]) : 300;
  std::vector<int> sizes;
  for (int i = 2; i < argc; ++i) sizes.push_back(std::stoi(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000};
  std::vector<Scale> scales;
  for (int n : sizes) {
    // Each scale in a process of its own: the controller child must be forked before any thread
    // (cpprestsdk's pool among them) exists, and an earlier scale's would.
    int results[2];
    if (pipe(results) != 0) return 1;
    if (fork() == 0) {
      const Scale s = runScale(n, events);
      writeAll(results[1], &s, sizeof s);
      _exit(0);
    }
    Scale s;
    readAll(results[0], &s, sizeof s);
    wait(nullptr);
    close(results[0]);
    close(results[1]);
    std::printf(
        "kube      %d rotations: listed, watched and reconciled in %.2f s (%d failed); %.1f MB resident "
        "(%.1f MB before); %d of %d changes timed\n",
        n, s.controller.syncSeconds, s.controller.failedReconciles, s.controller.residentSynced / 1e6,
        s.controller.residentBefore / 1e6, s.timed, events);
    std::printf(
        "          write -> watch event p50 %.2f ms p99 %.2f ms; write -> reconcile start p50 %.2f ms p99 %.2f ms\n",
        s.deliveredP50, s.deliveredP99, s.startedP50, s.startedP99);
    std::fflush(stdout);
    if (s.missed > 0 || s.controller.failedReconciles > 0) return 1;
    scales.push_back(s);
  }
  const Scale& first = scales.front();
  const char* server = first.realServer ? "kube-apiserver v1.25" : "the fake API server";
  for (const Scale& s : scales) {
    const bool base = &s == &first;
    row(format("Kubernetes mode (%s): change -> reconcile start, %d rotations watched (p50 / p99)", server, s.n),
        format("%.1f / %.1f ms", s.startedP50, s.startedP99),
        format("change -> watch event reaches the controller: %.1f / %.1f ms", s.deliveredP50, s.deliveredP99),
        format("%.2fx (p99)", s.startedP99 / s.deliveredP99), s.n <= 1000 ? "p99 <= 50 ms" : "-");
    row(format("Kubernetes mode (%s): controller resident memory, %d rotations listed and watched", server, s.n),
        format("%.1f MB", s.controller.residentSynced / 1e6),
        base ? format("the process before it connected: %.1f MB", s.controller.residentBefore / 1e6)
             : format("at %d: %.1f MB", first.n, first.controller.residentSynced / 1e6),
        format("%.2fx", static_cast<double>(s.controller.residentSynced) /
                            (base ? s.controller.residentBefore : first.controller.residentSynced)),
        base ? "-" : format("<= %dx", s.n / first.n));
  }
  return 0;
}
