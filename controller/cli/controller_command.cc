// rotor controller: the controller on a state directory or a cluster, with leader election,
// the adoption API, metrics and Events.
#include "controller/cli/verbs.h"

#include <csignal>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>
#include "controller/adoption/endpoint.h"
#include "controller/cli/backend.h"
#include "controller/common/strings.h"
#include "controller/kube/api_lease_store.h"
#include "controller/kube/event_writer.h"
#include "controller/kube/leader_pod_label.h"
#include "controller/kube/reflector.h"
#include "controller/manager/manager.h"
#include "controller/metrics/endpoint.h"
#include "controller/probe/tls_prober.h"
#include "controller/store/kube/namespace_watch.h"
#include "controller/store/kube/pod_watch.h"
#include "controller/store/local/dir_watch.h"
#include "controller/store/local/local_store.h"
#include "reconcilers/driver.h"

namespace rotor::cli {

namespace {

/** How long a controller that lost leadership may take to stop in order before it exits anyway. */
constexpr Duration kLostLeadershipGrace = std::chrono::seconds(2);

/** Events as structured log lines (Kubernetes mode records them as Event objects too). */
class LoggingEventRecorder final : public reconcilers::EventRecorder {
public:
  explicit LoggingEventRecorder(Logger& log) : log_(log) {}
  void record(const api::CertificateRotation& r, reconcilers::EventType type, const std::string& reason,
              const std::string& message) override {
    const bool warning = type == reconcilers::EventType::kWarning;
    log_.log(warning ? LogLevel::kWarn : LogLevel::kInfo, message,
             {{"rotation", r.key().toString()},
              {"event", warning ? "Warning" : "Normal"},
              {"reason", reason},
              {"phase", std::string(api::phaseName(r.status.phase))},
              {"revision", std::to_string(r.status.revision)}});
  }

private:
  Logger& log_;
};

/** HOST:PORT of a --FLAG into `server`; a usage error naming the flag otherwise. */
void listenAddressFrom(const Invocation& inv, const std::string& flag, const char* example,
                       http::ServerOptions& server) {
  const std::string addr = inv.get(flag);
  const size_t colon = addr.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(addr.substr(colon + 1));
    } catch (const std::exception&) {
    }
  }
  if (colon == std::string::npos || port < 0 || port > 65535) {
    throw UsageError{"--" + flag + " must be HOST:PORT, e.g. " + example};
  }
  server.host = addr.substr(0, colon);
  server.port = static_cast<uint16_t>(port);
}

/** The adoption API's settings from --adoption-* flags; nullopt when it is not asked for. */
StatusOr<std::optional<adoption::EndpointOptions>> adoptionOptionsFrom(const Invocation& inv, bool cluster) {
  if (!inv.has("adoption-addr")) {
    for (const char* f :
         {"adoption-cert", "adoption-key", "adoption-client-ca", "adoption-insecure", "adoption-agents-per-token",
          "adoption-max-connections", "adoption-request-timeout", "agent-flush-interval", "agent-last-seen-refresh"}) {
      if (inv.has(f)) throw UsageError{std::string("--") + f + " needs --adoption-addr"};
    }
    return std::optional<adoption::EndpointOptions>();
  }
  adoption::EndpointOptions o;
  listenAddressFrom(inv, "adoption-addr", "0.0.0.0:8444", o.server);
  o.server.plainHttp = inv.has("adoption-insecure");
  o.server.certFile = inv.get("adoption-cert");
  o.server.keyFile = inv.get("adoption-key");
  o.server.clientCaFile = inv.get("adoption-client-ca");
  o.service.agentsPerToken = countFlag(inv, "adoption-agents-per-token", o.service.agentsPerToken);
  o.server.maxConnections = countFlag(inv, "adoption-max-connections", o.server.maxConnections);
  // One bound for every step a client controls but idling between requests: a slow client is cut
  // off after it, whatever it trickles.
  const auto requestTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      durationFlag(inv, "adoption-request-timeout", o.server.headerTimeout));
  o.server.handshakeTimeout = o.server.headerTimeout = o.server.bodyTimeout = o.server.writeTimeout = requestTimeout;
  // Every flush in a burst of changes (a fleet registering or adopting) rewrites every agent
  // shard: in a cluster that is the API server's and etcd's load, so it comes less often.
  o.flushInterval = std::chrono::duration_cast<std::chrono::milliseconds>(
      durationFlag(inv, "agent-flush-interval", cluster ? std::chrono::seconds(10) : std::chrono::seconds(1)));
  o.registry.lastSeenRefresh = durationFlag(inv, "agent-last-seen-refresh", o.registry.lastSeenRefresh);
  if (o.flushInterval <= Duration::zero() || o.registry.lastSeenRefresh < o.flushInterval) {
    throw UsageError{"--agent-flush-interval must be positive and at most --agent-last-seen-refresh"};
  }
  if (!o.server.plainHttp && (o.server.certFile.empty() || o.server.keyFile.empty())) {
    throw UsageError{
        "the adoption API needs --adoption-cert and --adoption-key (or --adoption-insecure for plain HTTP)"};
  }
  return std::optional<adoption::EndpointOptions>(o);
}

/** Thousands of agent connections need more descriptors than the usual soft limit of 1024. */
void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

/** Events as log lines and, in a cluster, as events.k8s.io Events on the rotation. */
class ClusterEventRecorder final : public reconcilers::EventRecorder {
public:
  ClusterEventRecorder(Logger& log, kube::EventWriter& writer) : logged_(log), log_(log), writer_(writer) {}
  void record(const api::CertificateRotation& r, reconcilers::EventType type, const std::string& reason,
              const std::string& message) override {
    logged_.record(r, type, reason, message);
    const Status s = writer_.write(r, type == reconcilers::EventType::kWarning, "Reconcile", reason, message);
    if (!s.ok()) log_.warn("Could not record an event", {{"rotation", r.key().toString()}, {"error", s.message()}});
  }

private:
  LoggingEventRecorder logged_;
  Logger& log_;
  kube::EventWriter& writer_;
};

/** This process's name in the Lease and in Events: the pod's name (its hostname) and pid. */
/** "<hostname>_<pid>_<8 random hex digits>": new at each start. In a container the pid is the same at
 *  every start, and a restarted leader must not take the Lease it finds for its own. */
std::string instanceName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  unsigned char bytes[4] = {};
  const std::string name = std::string(host) + "_" + std::to_string(getpid());
  return RAND_bytes(bytes, sizeof bytes) == 1 ? name + "_" + hexEncode(bytes) : name;
}

/** In a cluster, a resync takes the rotations' names from the watch's cache instead of listing. */
std::function<StatusOr<std::vector<api::ObjectKey>>()> resyncKeys(const std::optional<kube::Reflector>& reflector) {
  if (!reflector) return nullptr;
  return [&reflector]() -> StatusOr<std::vector<api::ObjectKey>> { return reflector->keys(); };
}

/** What the leader runs: the adoption API, the manager and its loop. Built when leadership starts. */
struct Leading {
  std::unique_ptr<adoption::AdoptionEndpoint> endpoint;
  std::unique_ptr<manager::Manager> manager;
  std::jthread loop;  // last: stops before the manager goes
};

}  // namespace

int runController(Context& ctx, const Invocation& inv) {
  const auto [level, format] = logSettings(inv);
  Logger log(ctx.err, ctx.clock, level, format);
  const sigset_t signals = blockStopSignals(inv.has("once"));

  auto backend = openStore(ctx, inv);
  if (!backend.ok()) return fail(ctx, backend.status());
  Backend& b = **backend;
  const bool cluster = b.local() == nullptr;
  if (inv.has("leader-elect") && !cluster)
    throw UsageError{"--leader-elect needs a cluster (--kubeconfig or --in-cluster)"};
  std::optional<store::local::ProcessLock> lock;
  if (!cluster) {
    auto held = b.local()->lockForController();
    if (!held.ok()) return fail(ctx, held.status());
    lock.emplace(std::move(held).value());
    auto removed = b.local()->removeAbandonedTemporaries();
    if (!removed.ok()) {
      log.warn("Could not remove temporary files left by an interrupted write",
               {{"error", removed.status().message()}});
    } else if (*removed > 0) {
      log.info("Removed temporary files left by an interrupted write", {{"count", std::to_string(*removed)}});
    }
  }
  auto adoptionOptions = adoptionOptionsFrom(inv, cluster);
  if (!adoptionOptions.ok()) return fail(ctx, adoptionOptions.status());
  const std::string instance = instanceName();
  probe::TlsProber prober;
  LoggingEventRecorder loggedEvents(log);
  std::optional<kube::EventWriter> eventWriter;
  std::optional<ClusterEventRecorder> clusterEvents;
  if (cluster) {
    eventWriter.emplace(*b.client(), ctx.clock, instance);
    clusterEvents.emplace(log, *eventWriter);
  }
  reconcilers::EventRecorder& events =
      cluster ? static_cast<reconcilers::EventRecorder&>(*clusterEvents) : loggedEvents;
  metrics::ControllerMetrics controllerMetrics(b.store(), kVersion);

  Leading leading;
  std::atomic<manager::Manager*> running{nullptr};  // set once leading: what probes and metrics look at
  // A change the watch reports wakes its rotation at once, unless it is the echo of the
  // controller's own write; check-ins that move a gate wake it at most five times a second.
  const auto wakeForChange = [&running](const api::ObjectKey& key, const std::string& resourceVersion) {
    if (manager::Manager* m = running.load()) m->notifyChanged(key, resourceVersion);
  };
  const auto wakeForAgents = [&running](const api::ObjectKey& key) {
    if (manager::Manager* m = running.load()) m->notifyAgentsChanged(key);
  };
  // In a cluster, a watch on rotations wakes the manager; ready means it has listed them. A
  // rotation that copies its bundle into other namespaces is woken by namespaces too.
  std::optional<kube::Reflector> reflector;
  std::optional<store::kube::NamespaceWatch> namespaceWatch;
  // Consumer pods (spec.adoption.pods) are counted from a watch; a pod that changes wakes the
  // rotations that count pods as a check-in does. A one-off run lists them instead.
  std::optional<store::kube::PodWatch> podWatch;
  if (cluster && !inv.has("once")) {
    podWatch.emplace(*b.client(), wakeForAgents, [&log](const Status& error) {
      log.warn("Watch of pods interrupted", {{"error", error.message()}});
    });
    b.kube()->countPodsWith([&podWatch](const store::kube::ConsumerQuery& query) { return podWatch->tally(query); });
    namespaceWatch.emplace(
        *b.client(), *b.kube(), [&wakeForChange](const api::ObjectKey& key) { wakeForChange(key, ""); },
        [&log](const Status& error) {
          log.warn("Watch of namespaces interrupted", {{"error", error.message()}});
        });
    reflector.emplace(
        *b.client(), kube::kRotations, kube::ReflectorOptions{.ns = inv.get("watch-namespace")},
        [&wakeForChange, &namespaceWatch, &podWatch](const std::string& type, const nlohmann::json& object) {
          namespaceWatch->rotationChanged(type, object);
          podWatch->rotationChanged(type, object);
          const nlohmann::json& metadata = object["metadata"];
          // A deletion carries the object's last state, which may well be the controller's own.
          wakeForChange({metadata.value("namespace", ""), metadata.value("name", "")},
                        type == "DELETED" ? "" : metadata.value("resourceVersion", ""));
        },
        [&log](const Status& error) {
          log.warn("Watch of rotations interrupted", {{"error", error.message()}});
        });
  }
  const auto lead = [&]() -> Status {
    if (*adoptionOptions) {
      (*adoptionOptions)->checkInTook = [&controllerMetrics](std::chrono::nanoseconds took) {
        controllerMetrics.checkInTook(took);
      };
      raiseFileLimit();
      auto started = adoption::AdoptionEndpoint::start(b.store(), ctx.clock, log, **adoptionOptions, wakeForAgents);
      if (!started.ok()) return started.status();
      leading.endpoint = std::move(started).value();
      controllerMetrics.setCheckInCounts([service = &leading.endpoint->service()] {
        std::vector<std::pair<std::string, uint64_t>> counts;
        for (size_t i = 0; i < static_cast<size_t>(adoption::CheckInResult::kCount); ++i) {
          const auto result = static_cast<adoption::CheckInResult>(i);
          counts.emplace_back(adoption::checkInResultName(result), service->checkIns(result));
        }
        return counts;
      });
    }
    store::Store& reconcileStore = leading.endpoint ? leading.endpoint->store() : b.store();
    leading.manager = std::make_unique<manager::Manager>(
        manager::Collaborators{reconcileStore, ctx.clock, prober, events}, log,
        manager::ManagerOptions{.observer = &controllerMetrics, .listKeys = resyncKeys(reflector)});
    controllerMetrics.setQueueDepth([m = leading.manager.get()] { return m->queue().depth(); });
    running = leading.manager.get();
    return Status();
  };

  if (inv.has("once")) {
    // One pass over every rotation: as far as each can go without waiting.
    if (Status s = lead(); !s.ok()) return fail(ctx, s);
    if (Status s = leading.manager->resync(); !s.ok()) return fail(ctx, s);
    while (leading.manager->processOne()) {
    }
    return 0;
  }

  // Every replica watches, so that a follower is ready to take over with the rotations listed.
  std::jthread watching;
  if (reflector) watching = std::jthread([&reflector](std::stop_token stop) { reflector->run(stop); });
  std::atomic<bool> isLeader{false}, lostLeadership{false};
  // The chart's adoption Service selects the pod labelled as the leader's.
  std::optional<kube::LeaderPodLabel> podLabel;
  if (inv.has("leader-label-pod")) {
    if (!cluster) throw UsageError{"--leader-label-pod needs a cluster (--kubeconfig or --in-cluster)"};
    const std::string pod = inv.get("leader-label-pod");
    const size_t slash = pod.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == pod.size()) {
      throw UsageError{"--leader-label-pod must be NAMESPACE/NAME"};
    }
    podLabel.emplace(*b.client(), pod.substr(0, slash), pod.substr(slash + 1), log);
    podLabel->want(false);  // a former leader's container restarted in this pod
  }
  if (inv.has("leader-elect")) controllerMetrics.setLeading([&isLeader] { return isLeader.load(); });
  std::unique_ptr<metrics::MetricsEndpoint> operational;
  if (inv.has("metrics-addr")) {
    http::ServerOptions server;
    listenAddressFrom(inv, "metrics-addr", "0.0.0.0:9402", server);
    metrics::HealthChecks health{
        .live =
            [&running, &ctx] {
              // Not leading yet counts as alive; a loop that stopped going round for a minute does not.
              manager::Manager* m = running.load();
              const MonotonicTime tick = m ? m->lastTick() : MonotonicTime();
              return tick == MonotonicTime() || ctx.clock.monotonicNow() - tick < std::chrono::minutes(1);
            },
        // Ready means able to take over: every replica once it has listed the rotations (and
        // cleared a leader label a former run left on its pod); the leader once it has resynced.
        .ready =
            [&running, &reflector, &podLabel, &isLeader] {
              if (reflector && !reflector->synced()) return false;
              if (podLabel && !podLabel->settled()) return false;
              manager::Manager* m = running.load();
              return !isLeader || (m != nullptr && m->synced());
            }};
    auto started = metrics::MetricsEndpoint::start(controllerMetrics, std::move(health), server, log);
    if (!started.ok()) return fail(ctx, started.status());
    operational = std::move(started).value();
  }

  // Leader election: nothing is reconciled or accepted from agents until this process leads.
  std::optional<kube::ApiLeaseStore> leases;
  std::optional<kube::LeaderElector> elector;
  std::jthread electing;
  if (inv.has("leader-elect")) {
    const std::string leaseNamespace = inv.get("leader-election-namespace", b.cluster().ns);
    leases.emplace(*b.client(), leaseNamespace, inv.get("leader-election-id", "rotor-controller"));
    elector.emplace(
        *leases, ctx.clock,
        kube::ElectionOptions{.identity = instance,
                              .leaseDuration = durationFlag(inv, "lease-duration", std::chrono::seconds(15)),
                              .renewDeadline = durationFlag(inv, "renew-deadline", std::chrono::seconds(10)),
                              .retryPeriod = durationFlag(inv, "retry-period", std::chrono::seconds(2)),
                              .onError = [&log](const Status& error) {
                                log.warn("Leader election failed", {{"error", error.message()}});
                              }});
    log.info("Waiting to lead", {{"lease", leaseNamespace + "/" + inv.get("leader-election-id", "rotor-controller")},
                                 {"identity", instance}});
    electing = std::jthread([&](std::stop_token stop) {
      elector->run(
          stop, [&] { isLeader = true; },
          [&] {
            if (stop.stop_requested()) return;
            // Another process may lead now: stop at once, as client-go's controllers do. A
            // reconcile or lease request that the API server never answers must not keep this
            // process acting: unless the orderly stop is done within the grace, exit anyway.
            lostLeadership = true;
            log.error("Lost leadership; stopping",
                      {{"identity", instance}, {"exitWithin", formatDuration(kLostLeadershipGrace)}});
            kill(getpid(), SIGTERM);
            std::thread([] {
              std::this_thread::sleep_for(kLostLeadershipGrace);
              std::_Exit(1);
            }).detach();
          });
    });
  } else {
    isLeader = true;
  }

  int received = 0;
  // Waits until `ready`; false when a stop signal came first.
  const auto readyUnlessStopped = [&signals, &received](const std::function<bool()>& ready) {
    timespec poll{0, 200 * 1000 * 1000};
    while (!ready()) {
      received = sigtimedwait(&signals, nullptr, &poll);
      if (received == SIGTERM || received == SIGINT) return false;
    }
    return true;
  };
  std::unique_ptr<store::local::DirWatch> dirWatch;
  if (readyUnlessStopped([&isLeader] { return isLeader.load(); }) && !lostLeadership) {
    if (Status s = lead(); !s.ok()) return fail(ctx, s);
    if (podLabel) podLabel->want(true);
    if (!reflector) {
      // inotify says only which file changed: the rotation's resourceVersion tells an echo apart.
      auto watch = store::local::DirWatch::start(
          b.local()->stateDirectory(), [&](const api::ObjectKey& key, store::local::DirWatch::Record record) {
            if (record == store::local::DirWatch::Record::kAgents) return wakeForAgents(key);
            auto rotation = b.store().getRotation(key);
            wakeForChange(key, rotation.ok() ? rotation->metadata.resourceVersion : "");
          });
      if (watch.ok()) {
        dirWatch = std::move(watch).value();
      } else {
        log.warn("Could not watch the state directory; relying on the periodic resync",
                 {{"error", watch.status().message()}});
      }
    }
    log.info("Started controller",
             {{cluster ? "server" : "stateDirectory", cluster ? b.cluster().server : b.local()->root().string()},
              {"version", kVersion}});
    // A resync counts a rotation absent from the watch's cache as deleted (Store::collectOrphans):
    // the loop starts once the cache holds every rotation, as controller-runtime waits for its caches.
    if (readyUnlessStopped([&reflector] { return !reflector || reflector->synced(); })) {
      leading.loop = std::jthread([m = leading.manager.get()](std::stop_token stop) { m->run(stop); });
      sigwait(&signals, &received);
    }
  }
  if (!lostLeadership) {
    log.info("Shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  }
  // In this order: agents are routed elsewhere, the last check-ins are persisted, and only then
  // may a successor lead (and load them).
  leading.loop = {};
  if (podLabel) {
    podLabel->want(false);
    podLabel->waitSettled(kLostLeadershipGrace / 2);
  }
  running = nullptr;
  leading.endpoint.reset();
  watching = {};
  electing = {};  // releases the lease when it was held, so a successor need not wait it out
  operational.reset();
  log.info("Stopped controller");
  return lostLeadership ? 1 : 0;
}

}  // namespace rotor::cli
