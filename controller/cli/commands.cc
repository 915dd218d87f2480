#include "controller/cli/commands.h"

#include <charconv>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>
#include "controller/adoption/endpoint.h"
#include "controller/agent/agent.h"
#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/api/yaml_codec.h"
#include "controller/cli/backend.h"
#include "controller/cli/output.h"
#include "controller/cli/report.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/kube/api_lease_store.h"
#include "controller/kube/event_writer.h"
#include "controller/kube/leader_pod_label.h"
#include "controller/kube/reflector.h"
#include "controller/manager/manager.h"
#include "controller/metrics/endpoint.h"
#include "controller/pki/digest.h"
#include "controller/probe/tls_prober.h"
#include "controller/store/local/dir_watch.h"
#include "controller/store/local/local_store.h"
#include "reconcilers/driver.h"
#include "reconcilers/gates.h"
#include "reconcilers/restore.h"
#include "reconcilers/triggers.h"

namespace rotor::cli {
namespace {

constexpr const char* kVersion = "0.1.0";
/** How long a controller that lost leadership may take to stop in order before it exits anyway. */
constexpr Duration kLostLeadershipGrace = std::chrono::seconds(2);

struct FlagSpec {
  std::string name;       // long name without dashes
  std::string shortName;  // one letter, or ""
  bool takesValue;
  std::string help;
};

/** A parsed command line: the verb's positional arguments and flags. */
struct Invocation {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  bool has(const std::string& f) const { return flags.count(f) > 0; }
  std::string get(const std::string& f, const std::string& fallback = "") const {
    auto it = flags.find(f);
    return it == flags.end() ? fallback : it->second;
  }
};

struct Context {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  RealClock clock;
  /** Invoked as kubectl-rotor: the cluster in kubectl's configuration is the default. */
  bool asKubectlPlugin = false;
  /** The namespace of NAME arguments: --namespace, else the backend's default (set on open). */
  std::string ns = std::string(api::kDefaultNamespace);
};

struct Verb {
  std::string name;
  std::string usage;
  std::string summary;
  std::vector<FlagSpec> flags;
  std::function<int(Context&, const Invocation&)> handler;
};

const std::vector<FlagSpec> kGlobalFlags = {
    {"local", "", true, "state directory of local mode (default: $ROTOR_LOCAL_DIR)"},
    {"kubeconfig", "", true, "use the Kubernetes cluster of this kubeconfig file"},
    {"context", "", true, "the kubeconfig context to use (default: its current context)"},
    {"in-cluster", "", false, "use the cluster this pod runs in (its service account)"},
    {"namespace", "n", true, "namespace of the rotation (default: the kubeconfig context's, else \"default\")"},
    {"help", "h", false, "show help"},
};

/** A usage error: exit code 2. */
struct UsageError {
  std::string message;
};

int fail(Context& ctx, const Status& status) {
  ctx.err << "error: " << status.message() << "\n";
  return 1;
}

/** The state directory or cluster the flags name; sets ctx.ns. */
StatusOr<std::unique_ptr<Backend>> openStore(Context& ctx, const Invocation& inv) {
  BackendChoice choice{.localDir = inv.get("local"),
                       .kubeconfig = inv.get("kubeconfig"),
                       .context = inv.get("context"),
                       .inCluster = inv.has("in-cluster"),
                       .asKubectlPlugin = ctx.asKubectlPlugin,
                       .watchNamespace = inv.get("watch-namespace"),
                       .allowWorldReadableCaKey = inv.has("allow-world-readable-ca-key")};
  const bool clusterNamed = inv.has("kubeconfig") || inv.has("in-cluster");
  if (choice.localDir.empty() && !clusterNamed) {
    if (const char* env = std::getenv("ROTOR_LOCAL_DIR"); env != nullptr && !ctx.asKubectlPlugin) choice.localDir = env;
  }
  auto backend = Backend::open(choice, ctx.clock);
  if (backend.ok()) ctx.ns = inv.get("namespace", (*backend)->defaultNamespace());
  return backend;
}

StatusOr<std::string> readInput(Context& ctx, const std::string& file) {
  if (file == "-") {
    std::stringstream buffer;
    buffer << ctx.in.rdbuf();
    return buffer.str();
  }
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    return notFound("could not read " + file);
  }
  std::stringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

api::ObjectKey keyFrom(const Context& ctx, const std::string& name) { return {ctx.ns, name}; }

// ---- verbs ----

int runApply(Context& ctx, const Invocation& inv) {
  if (!inv.has("filename")) throw UsageError{"apply needs -f FILE (or -f - for standard input)"};
  auto text = readInput(ctx, inv.get("filename"));
  if (!text.ok()) return fail(ctx, text.status());
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  // Everything is decoded and validated before the first write: all or nothing.
  auto rotations = api::decodeManifests(*text, (*store)->local() ? api::Mode::kLocal : api::Mode::kKubernetes);
  if (!rotations.ok()) {
    ctx.err << "error: " << inv.get("filename") << " was not applied:\n" << rotations.status().message() << "\n";
    return 1;
  }
  for (api::CertificateRotation desired : *rotations) {
    // As kubectl does: a manifest without a namespace lands in the context's (or --namespace).
    if (!(*store)->local() && desired.metadata.ns == api::kDefaultNamespace) desired.metadata.ns = ctx.ns;
    auto before = (*store)->store().getRotation(desired.key());
    auto applied = (*store)->store().applyRotation(desired);
    if (!applied.ok()) return fail(ctx, applied.status());
    std::string what = !before.ok()                                                            ? "created"
                       : before->metadata.resourceVersion == applied->metadata.resourceVersion ? "unchanged"
                                                                                               : "configured";
    ctx.out << "certificaterotation.rotor.dev/" << desired.metadata.name << " " << what << "\n";
  }
  return 0;
}

int runGet(Context& ctx, const Invocation& inv) {
  if (inv.positional.size() > 1) throw UsageError{"get takes at most one NAME"};
  const std::string format = inv.get("output", "table");
  if (format != "table" && format != "yaml" && format != "json") {
    throw UsageError{"-o must be yaml or json, got \"" + format + "\""};
  }
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  std::vector<api::CertificateRotation> rotations;
  if (inv.positional.size() == 1) {
    auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
    if (!r.ok()) return fail(ctx, r.status());
    rotations.push_back(std::move(*r));
  } else {
    // Namespaced unless -A: an operator may hold list rights in its namespaces only.
    auto listed = (*store)->store().listRotations(inv.has("all-namespaces") ? store::kAllNamespaces : ctx.ns);
    if (!listed.ok()) return fail(ctx, listed.status());
    rotations = std::move(*listed);
  }
  if (format == "table") {
    if (rotations.empty()) {
      ctx.err << "No resources found\n";
      return 0;
    }
    ctx.out << formatRotationTable(rotations, ctx.clock.now());
    return 0;
  }
  const bool single = inv.positional.size() == 1;
  if (format == "json") {
    if (single) {
      ctx.out << api::rotationToJson(rotations.front());
    } else {
      nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", nlohmann::json::array()}};
      for (const auto& r : rotations) list["items"].push_back(api::encodeRotation(r));
      ctx.out << api::dumpJson(list, 2) << "\n";
    }
    return 0;
  }
  for (size_t i = 0; i < rotations.size(); ++i) {
    if (i > 0) ctx.out << "---\n";
    ctx.out << api::rotationToYaml(rotations[i]);
  }
  return 0;
}

int runDelete(Context& ctx, const Invocation& inv) {
  if (inv.positional.size() != 1) throw UsageError{"delete takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  Status s = (*store)->store().deleteRotation(keyFrom(ctx, inv.positional[0]));
  if (!s.ok()) return fail(ctx, s);
  ctx.out << "certificaterotation.rotor.dev/" << inv.positional[0] << " deleted\n";
  return 0;
}

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

/** --log-format and --log-level; a usage error for anything else. */
std::pair<LogLevel, LogFormat> logSettings(const Invocation& inv) {
  static const std::map<std::string, LogLevel> kLevels = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};
  const std::string format = inv.get("log-format", "text");
  auto level = kLevels.find(inv.get("log-level", "info"));
  if (format != "text" && format != "json") throw UsageError{"--log-format must be text or json"};
  if (level == kLevels.end()) throw UsageError{"--log-level must be debug, info, warn or error"};
  return {level->second, format == "json" ? LogFormat::kJson : LogFormat::kText};
}

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

/** A whole-number flag, or `fallback` when it is not given. */
size_t countFlag(const Invocation& inv, const std::string& flag, size_t fallback) {
  if (!inv.has(flag)) return fallback;
  const std::string text = inv.get(flag);
  size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw UsageError{"--" + flag + " must be a whole number"};
  return value;
}

/** The adoption API's settings from --adoption-* flags; nullopt when it is not asked for. */
StatusOr<std::optional<adoption::EndpointOptions>> adoptionOptionsFrom(const Invocation& inv) {
  if (!inv.has("adoption-addr")) {
    for (const char* f : {"adoption-cert", "adoption-key", "adoption-client-ca", "adoption-insecure",
                          "adoption-agents-per-token", "adoption-max-connections"}) {
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

/**
 * For the long-running verbs: SIGTERM and SIGINT are blocked (unless the verb runs once) before
 * any thread starts, so that only the caller's sigwait on the returned set sees them; SIGPIPE is
 * ignored, so that a peer hanging up mid-write fails that connection, not the process.
 */
sigset_t blockStopSignals(bool once) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (!once) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
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

/** A duration flag, or its default; a usage error naming the flag otherwise. */
Duration durationFlag(const Invocation& inv, const std::string& flag, Duration fallback) {
  if (!inv.has(flag)) return fallback;
  auto d = parseDuration(inv.get(flag));
  if (!d.ok() || *d <= Duration::zero()) throw UsageError{"--" + flag + " must be a duration such as 15s"};
  return *d;
}

/** This process's name in the Lease and in Events: the pod's name (its hostname) and pid. */
std::string instanceName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + std::to_string(getpid());
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
  auto adoptionOptions = adoptionOptionsFrom(inv);
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
  // Check-ins that move a gate wake their rotation; so do changes the watch reports.
  const auto wake = [&running](const api::ObjectKey& key) {
    if (manager::Manager* m = running.load()) m->notify(key);
  };
  // In a cluster, a watch on rotations wakes the manager; ready means it has listed them.
  std::optional<kube::Reflector> reflector;
  if (cluster && !inv.has("once")) {
    reflector.emplace(
        *b.client(), kube::kRotations, kube::ReflectorOptions{.ns = inv.get("watch-namespace")},
        [&wake](const std::string&, const nlohmann::json& object) {
          wake({object["metadata"].value("namespace", ""), object["metadata"].value("name", "")});
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
      auto started = adoption::AdoptionEndpoint::start(b.store(), ctx.clock, log, **adoptionOptions, wake);
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
        reconcilers::RotationContext{reconcileStore, ctx.clock, prober, events}, log,
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
  timespec poll{0, 200 * 1000 * 1000};
  while (!isLeader) {
    received = sigtimedwait(&signals, nullptr, &poll);
    if (received == SIGTERM || received == SIGINT) break;
  }
  std::unique_ptr<store::local::DirWatch> dirWatch;
  if (isLeader && !lostLeadership) {
    if (Status s = lead(); !s.ok()) return fail(ctx, s);
    if (podLabel) podLabel->want(true);
    if (!reflector) {
      auto watch = store::local::DirWatch::start(b.local()->stateDirectory(), wake);
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
    leading.loop = std::jthread([m = leading.manager.get()](std::stop_token stop) { m->run(stop); });
    sigwait(&signals, &received);
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

bool isResting(api::Phase p) { return p == api::Phase::kReady || p == api::Phase::kRolledBack; }

/** Reads NAME, applies `change` (which may refuse with a Status, and may read the store) and
 *  writes it back. A write that loses a race with the controller's status writes is made again
 *  from a fresh read, as client-go's RetryOnConflict does (5 tries). */
int updateNamed(Context& ctx, const Invocation& inv, const std::string& verb,
                const std::function<Status(store::Store&, api::CertificateRotation&)>& change,
                const std::string& done) {
  if (inv.positional.size() != 1) throw UsageError{verb + " takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
    if (!r.ok()) return fail(ctx, r.status());
    if (Status refused = change((*store)->store(), *r); !refused.ok()) return fail(ctx, refused);
    Status written = (*store)->store().updateRotation(*r);
    if (written.ok()) {
      ctx.out << "certificaterotation.rotor.dev/" << r->metadata.name << " " << done << "\n";
      return 0;
    }
    if (written.code() != Code::kConflict || attempt == kAttempts) return fail(ctx, written);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt));
  }
}

int runRotate(Context& ctx, const Invocation& inv) {
  const bool renew = inv.has("renew");
  return updateNamed(
      ctx, inv, "rotate",
      [&](store::Store&, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is paused; resume it first");
        if (!isResting(r.status.phase)) {
          return failedPrecondition("a rotation of " + r.metadata.name + " is already in flight (phase " +
                                    std::string(api::phaseName(r.status.phase)) + "); see rotor status " +
                                    r.metadata.name);
        }
        // A request the controller has not taken up yet: a second one would be folded into it (a new
        // rotation consumes both kinds), so saying "requested" twice would promise two rotations.
        for (const std::string_view pendingKey : {api::kRotateAnnotation, api::kRenewAnnotation}) {
          if (const std::string asked = reconcilers::pendingRequest(r, pendingKey); !asked.empty()) {
            return failedPrecondition("a rotation of " + r.metadata.name + " was already requested (" +
                                      std::string(pendingKey) + "=" + asked + ") and has not started yet");
          }
        }
        const std::string key(renew ? api::kRenewAnnotation : api::kRotateAnnotation);
        std::string value = formatRfc3339(ctx.clock.now());
        if (r.metadata.annotations[key] == value) value += "-1";  // twice in one second is still a new request
        r.metadata.annotations[key] = value;
        return okStatus();
      },
      renew ? "renewal requested" : "rotation requested");
}

int runPause(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "pause",
      [](store::Store&, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is already paused");
        r.spec.paused = true;
        return okStatus();
      },
      "paused");
}

int runResume(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "resume",
      [](store::Store&, api::CertificateRotation& r) {
        if (!r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is not paused");
        r.spec.paused = false;
        return okStatus();
      },
      "resumed");
}

int runRollback(Context& ctx, const Invocation& inv) {
  return updateNamed(
      ctx, inv, "rollback",
      [&](store::Store& store, api::CertificateRotation& r) {
        if (r.spec.paused) return failedPrecondition("rotation " + r.metadata.name + " is paused; resume it first");
        if (r.status.phase == api::Phase::kPending || r.status.phase == api::Phase::kIssuing) {
          return failedPrecondition("rotation " + r.metadata.name + " has nothing to roll back to yet");
        }
        auto names = store.listSnapshots(r);
        if (!names.ok()) return names.status();
        std::string target = inv.get("to");
        if (target.empty()) {
          if (names->empty()) return failedPrecondition("rotation " + r.metadata.name + " has no snapshots");
          target = names->back();
        }
        if (std::find(names->begin(), names->end(), target) == names->end()) {
          return notFound("rotation " + r.metadata.name + " has no snapshot \"" + target + "\" (rotor snapshots " +
                          r.metadata.name + " lists them)");
        }
        auto snapshot = store.getSnapshot(r, target);
        if (!snapshot.ok()) return snapshot.status();
        // Refused here, before anything is asked of the controller, when the restore could not finish.
        if (Status usable = reconcilers::checkRestorable(store, r, *snapshot); !usable.ok()) return usable;
        if (r.status.handled.rollbackTo == target) {
          return failedPrecondition("rotation " + r.metadata.name + " was already rolled back to \"" + target + "\"");
        }
        r.spec.rollbackTo = target;
        return okStatus();
      },
      "rollback requested");
}

StatusOr<std::vector<store::Snapshot>> snapshotsOf(store::Store& store, const api::CertificateRotation& r) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, store.listSnapshots(r));
  std::vector<store::Snapshot> out;
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(store::Snapshot snapshot, store.getSnapshot(r, name));
    snapshot.servers.clear();  // key material stays where it is
    out.push_back(std::move(snapshot));
  }
  return out;
}

/** Runs `show` on NAME and its snapshots. */
int showNamed(
    Context& ctx, const Invocation& inv, const std::string& verb,
    const std::function<std::string(const api::CertificateRotation&, const std::vector<store::Snapshot>&)>& show) {
  if (inv.positional.size() != 1) throw UsageError{verb + " takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
  if (!r.ok()) return fail(ctx, r.status());
  auto snapshots = snapshotsOf((*store)->store(), *r);
  if (!snapshots.ok()) return fail(ctx, snapshots.status());
  ctx.out << show(*r, *snapshots);
  return 0;
}

int runSnapshots(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "snapshots", [](const api::CertificateRotation&, const std::vector<store::Snapshot>& all) {
    std::vector<std::vector<std::string>> rows = {{"NAME", "TAKEN", "REVISION", "REASON"}};
    for (const store::Snapshot& s : all) {
      rows.push_back({s.name, formatRfc3339(s.takenAt), std::to_string(s.revision), s.reason});
    }
    return all.empty() ? std::string("No snapshots\n") : formatTable(rows);
  });
}

int runStatus(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "status", [&](const api::CertificateRotation& r, const std::vector<store::Snapshot>& all) {
    return formatStatusReport(r, all, ctx.clock.now());
  });
}

int runPlan(Context& ctx, const Invocation& inv) {
  return showNamed(ctx, inv, "plan", [&](const api::CertificateRotation& r, const std::vector<store::Snapshot>&) {
    return formatPlan(r, ctx.clock.now());
  });
}

/** A new bearer token: "rotor_" and 64 hex digits from the system's CSPRNG. */
StatusOr<std::string> newToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return unavailable("the random number generator failed");
  return "rotor_" + hexEncode(bytes);
}

int runToken(Context& ctx, const Invocation& inv) {
  if (inv.positional.size() != 1) throw UsageError{"token takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  auto token = newToken();
  if (!token.ok()) return fail(ctx, token.status());
  const api::ObjectKey key = keyFrom(ctx, inv.positional[0]);
  if (inv.has("file")) {
    // Written before the digest is stored: a token that cannot be kept is never valid.
    if (Status s = writeFileAtomic(inv.get("file"), *token + "\n", kPrivateFileMode); !s.ok()) {
      return fail(ctx, s);
    }
  }
  if (Status s = (*store)->store().addAgentTokenDigest(key, pki::sha256Hex(*token)); !s.ok()) return fail(ctx, s);
  if (inv.has("file")) {
    ctx.out << "token for " << key.toString() << " written to " << inv.get("file") << "\n";
  } else {
    ctx.out << *token << "\n";
  }
  return 0;
}

int runAgents(Context& ctx, const Invocation& inv) {
  static const std::vector<std::string> kStates = {"adopted", "pending", "stale"};
  const std::string want = inv.get("state");
  if (!want.empty() && std::find(kStates.begin(), kStates.end(), want) == kStates.end()) {
    throw UsageError{"--state must be adopted, pending or stale"};
  }
  if (inv.positional.size() != 1) throw UsageError{"agents takes exactly one NAME"};
  auto store = openStore(ctx, inv);
  if (!store.ok()) return fail(ctx, store.status());
  auto r = (*store)->store().getRotation(keyFrom(ctx, inv.positional[0]));
  if (!r.ok()) return fail(ctx, r.status());
  // Adoption is measured against the CA being rolled out, or the current one when none is.
  const std::optional<api::CertificateRef>& target = r->status.ca.next ? r->status.ca.next : r->status.ca.current;
  const std::string fingerprint = target ? target->fingerprint : std::string();
  const SystemTime now = ctx.clock.now();
  std::vector<std::pair<store::AgentRecord, std::string_view>> agents;  // with its state
  std::map<std::string_view, int> counts;
  Status s = (*store)->store().visitAgents(r->key(), [&](const store::AgentRecord& a) {
    const std::string_view state =
        reconcilers::agentStateName(reconcilers::classifyAgent(a, fingerprint, now, r->spec.adoption.staleAfter));
    ++counts[state];
    if (want.empty() || want == state) agents.emplace_back(a, state);
  });
  if (!s.ok()) return fail(ctx, s);
  std::sort(agents.begin(), agents.end(), [](const auto& a, const auto& b) { return a.first.id < b.first.id; });
  ctx.out << "Measured against " << (r->status.ca.next ? "the new CA " : "the current CA ")
          << (fingerprint.empty() ? "(none yet)" : fingerprint) << ": " << counts["adopted"] << " adopted, "
          << counts["pending"] << " pending, " << counts["stale"] << " stale\n";
  if (agents.empty()) return 0;
  std::vector<std::vector<std::string>> rows = {{"AGENT", "STATE", "LAST SEEN", "VERSION", "TRUSTS"}};
  for (const auto& [a, state] : agents) {
    rows.push_back({a.id, std::string(state),
                    formatAge(std::chrono::duration_cast<Duration>(now - a.lastSeen)) + " ago",
                    a.version.empty() ? "-" : a.version, std::to_string(a.trusted.size()) + " CA(s)"});
  }
  ctx.out << formatTable(rows);
  return 0;
}

int runAgent(Context& ctx, const Invocation& inv) {
  for (const char* f : {"server", "rotation", "id", "trust-store"}) {
    if (!inv.has(f)) throw UsageError{std::string("agent needs --") + f};
  }
  const std::string rotation = inv.get("rotation");
  const size_t slash = rotation.find('/');
  agent::ClientOptions client;
  client.server = inv.get("server");
  client.ns = slash == std::string::npos ? std::string(api::kDefaultNamespace) : rotation.substr(0, slash);
  client.rotation = slash == std::string::npos ? rotation : rotation.substr(slash + 1);
  client.agentId = inv.get("id");
  client.serverCaFile = inv.get("server-ca");
  client.clientCertFile = inv.get("client-cert");
  client.clientKeyFile = inv.get("client-key");
  if (Status id = store::validateAgentId(client.agentId); !id.ok()) throw UsageError{"--id: " + id.message()};
  if (client.clientCertFile.empty() != client.clientKeyFile.empty()) {
    throw UsageError{"--client-cert and --client-key go together"};
  }
  if (inv.has("token-file")) {
    auto token = readInput(ctx, inv.get("token-file"));
    if (!token.ok()) return fail(ctx, token.status());
    client.token = std::string(trim(*token));
    if (client.token.empty() ||
        std::any_of(client.token.begin(), client.token.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
      return fail(ctx, invalidArgument(inv.get("token-file") + " must hold one token on one line"));
    }
  } else if (client.clientCertFile.empty()) {
    throw UsageError{"agent needs --token-file or --client-cert/--client-key"};
  }
  agent::AgentOptions options;
  options.trustStore = inv.get("trust-store");
  options.version = std::string("rotor-agent/") + kVersion;
  if (inv.has("interval")) {
    auto interval = parseDuration(inv.get("interval"));
    if (!interval.ok() || *interval <= Duration::zero()) throw UsageError{"--interval must be a duration like 30s"};
    options.interval = *interval;
  }
  const auto [level, format] = logSettings(inv);
  Logger log(ctx.err, ctx.clock, level, format);
  const sigset_t signals = blockStopSignals(inv.has("once"));
  auto http = agent::makeHttpClient(client);
  if (!http.ok()) return fail(ctx, http.status());
  agent::Agent a(**http, options, log);
  if (inv.has("once")) {
    Status s = a.syncOnce();
    return s.ok() ? 0 : fail(ctx, s);
  }
  log.info(
      "Started agent",
      {{"rotation", client.ns + "/" + client.rotation}, {"id", client.agentId}, {"trustStore", options.trustStore}});
  std::jthread loop([&a](std::stop_token stop) { a.run(stop); });
  int received = 0;
  sigwait(&signals, &received);
  loop.request_stop();
  loop.join();
  log.info("Stopped agent");
  return 0;
}

/** What `helm test` runs: the CRD is served to this identity, and the controller behind --url
 *  is ready and exports its metrics. One line per check; exit 1 when any failed. */
int runCheck(Context& ctx, const Invocation& inv) {
  int failed = 0;
  const auto report = [&](bool ok, const std::string& what) {
    ctx.out << (ok ? "ok    " : "FAIL  ") << what << "\n";
    failed += ok ? 0 : 1;
  };
  auto backend = openStore(ctx, inv);
  if (!backend.ok()) return fail(ctx, backend.status());
  const std::string ns = inv.has("all-namespaces") ? store::kAllNamespaces : ctx.ns;
  auto rotations = (*backend)->store().listRotations(ns);
  report(rotations.ok(), rotations.ok() ? "rotations are served: " + std::to_string(rotations->size()) + " visible" +
                                              (ns.empty() ? "" : " in " + ns)
                                        : "rotations are not served: " + rotations.status().message());
  if (inv.has("url")) {
    const std::string base = inv.get("url");
    auto ready = agent::httpGet(base + "/readyz", std::chrono::seconds(10));
    report(ready.ok() && ready->code == 200,
           "the controller is ready: " +
               (ready.ok() ? "GET /readyz answered " + std::to_string(ready->code) : ready.status().message()));
    auto metrics = agent::httpGet(base + "/metrics", std::chrono::seconds(10));
    const bool exported = metrics.ok() && metrics->body.find("rotor_build_info") != std::string::npos;
    report(metrics.ok() && metrics->code == 200 && exported,
           "metrics answer: " + (metrics.ok() ? "GET /metrics answered " + std::to_string(metrics->code) +
                                                    (exported ? " with" : " without") + " rotor_build_info"
                                              : metrics.status().message()));
  }
  return failed == 0 ? 0 : 1;
}

int runVersion(Context& ctx, const Invocation&) {
  ctx.out << "rotor " << kVersion << "\n";
  return 0;
}

// The long-running verbs log; logSettings reads these.
const FlagSpec kLogFormatFlag{"log-format", "", true, "text (default) or json"};
const FlagSpec kLogLevelFlag{"log-level", "", true, "debug, info (default), warn or error"};

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> kVerbs = {
      {"apply",
       "rotor apply -f FILE|-",
       "Create or update rotations from a manifest (all documents or none)",
       {{"filename", "f", true, "manifest file with one or more documents, or - for standard input"}},
       runApply},
      {"get",
       "rotor get [NAME] [-o yaml|json] [-A]",
       "Show rotations",
       {{"output", "o", true, "output format: yaml or json (default: a table)"},
        {"all-namespaces", "A", false, "list rotations in every namespace"}},
       runGet},
      {"delete", "rotor delete NAME", "Delete a rotation (served files, bundles and backups stay)", {}, runDelete},
      {"controller",
       "rotor controller (--local DIR | --kubeconfig F | --in-cluster) [--once] [--leader-elect] [--metrics-addr "
       "HOST:PORT] "
       "[--adoption-addr HOST:PORT --adoption-cert F --adoption-key F] [--log-format text|json] [--log-level LEVEL]",
       "Run the controller on a state directory or a cluster until SIGTERM (or one pass with --once)",
       {{"once", "", false, "reconcile every rotation as far as it goes without waiting, then exit"},
        {"metrics-addr", "", true, "serve /metrics, /healthz and /readyz over plain HTTP on HOST:PORT"},
        {"adoption-addr", "", true, "serve the adoption API on HOST:PORT (agents fetch the bundle and check in)"},
        {"adoption-cert", "", true, "the adoption API's certificate chain (PEM); reloaded when the file changes"},
        {"adoption-key", "", true, "the adoption API's private key (PEM)"},
        {"adoption-client-ca", "", true, "accept agent client certificates issued by this CA (mTLS)"},
        {"adoption-insecure", "", false, "serve the adoption API over plain HTTP (behind a TLS proxy only)"},
        {"adoption-agents-per-token", "", true,
         "most new agent ids one token may register (default 2000; 0: no limit)"},
        {"adoption-max-connections", "", true,
         "most open adoption API connections; more are closed at once (default 10000)"},
        {"watch-namespace", "", true, "in a cluster: only rotations in this namespace (default: every namespace)"},
        {"leader-elect", "", false, "in a cluster: act only while holding the leader Lease (for replicas > 1)"},
        {"leader-election-namespace", "", true, "namespace of the leader Lease (default: the configuration's)"},
        {"leader-election-id", "", true, "name of the leader Lease (default: rotor-controller)"},
        {"lease-duration", "", true, "how long followers wait before taking an unrenewed Lease (default 15s)"},
        {"renew-deadline", "", true, "how long the leader tries to renew before it stops leading (default 10s)"},
        {"retry-period", "", true, "how often the Lease is tried and renewed (default 2s)"},
        {"leader-label-pod", "", true,
         "in a cluster: label pod NAMESPACE/NAME rotor.dev/leader=true while leading, and remove the label otherwise"},
        {"allow-world-readable-ca-key", "", false,
         "local mode: use a spec.ca.files key any user can read (else refused)"},
        kLogFormatFlag,
        kLogLevelFlag},
       runController},
      {"check",
       "rotor check [--url URL] [-A]",
       "Check an installation: rotations are served to this identity, and the controller at URL is ready and exports "
       "metrics",
       {{"url", "", true, "the controller's metrics address, e.g. http://rotor.rotor-system.svc:9402"},
        {"all-namespaces", "A", false, "read rotations in every namespace"}},
       runCheck},
      {"token",
       "rotor token NAME [--file F]",
       "Create a bearer token for NAME's agents (printed once, or written to F with mode 0600)",
       {{"file", "", true, "write the token to this file (0600) instead of printing it"}},
       runToken},
      {"agent",
       "rotor agent --server URL --rotation [NS/]NAME --id ID --token-file F --trust-store FILE [--server-ca FILE] "
       "[--interval D] [--once]",
       "Run the reference agent: keep FILE in step with the rotation's bundle and report what it trusts",
       {{"server", "", true, "the adoption API, e.g. https://rotor.example.com:8444"},
        {"rotation", "", true, "the rotation, as NAMESPACE/NAME or NAME"},
        {"id", "", true, "this agent's id (1-128 of A-Z a-z 0-9 . _ : -)"},
        {"token-file", "", true, "file holding the bearer token (rotor token NAME --file F)"},
        {"client-cert", "", true, "client certificate for mTLS instead of a token"},
        {"client-key", "", true, "the client certificate's key"},
        {"trust-store", "", true, "the PEM trust store to keep up to date (written atomically)"},
        {"server-ca", "", true, "verify the adoption API against this CA instead of the system's"},
        {"interval", "", true, "how often to sync (default 30s; failures back off up to 5m)"},
        {"once", "", false, "sync once and exit (non-zero on failure)"},
        kLogFormatFlag,
        kLogLevelFlag},
       runAgent},
      {"agents",
       "rotor agents NAME [--state adopted|pending|stale]",
       "List the agents that report for NAME",
       {{"state", "", true, "only agents in this state"}},
       runAgents},
      {"status",
       "rotor status NAME",
       "Show a rotation: phase timeline, every gate and why it waits, adoption, snapshots",
       {},
       runStatus},
      {"plan", "rotor plan NAME", "Dry run: what the next rotation of NAME would do", {}, runPlan},
      {"rotate",
       "rotor rotate NAME [--renew]",
       "Start a CA rotation (or, with --renew, a renewal under the same CA)",
       {{"renew", "", false, "renew the server certificates under the current CA"}},
       runRotate},
      {"pause", "rotor pause NAME", "Pause a rotation where it stands", {}, runPause},
      {"resume", "rotor resume NAME", "Resume a paused rotation", {}, runResume},
      {"rollback",
       "rotor rollback NAME [--to SNAPSHOT]",
       "Restore a snapshot (default: the latest)",
       {{"to", "", true, "the snapshot to restore (rotor snapshots NAME lists them)"}},
       runRollback},
      {"snapshots", "rotor snapshots NAME", "List a rotation's snapshots", {}, runSnapshots},
      {"version", "rotor version", "Print rotor's version", {}, runVersion},
  };
  return kVerbs;
}

void printFlags(std::ostream& os, const std::vector<FlagSpec>& flags) {
  for (const FlagSpec& f : flags) {
    std::string names =
        (f.shortName.empty() ? "    " : "-" + f.shortName + ", ") + "--" + f.name + (f.takesValue ? " VALUE" : "");
    os << "  " << names << std::string(names.size() < 28 ? 28 - names.size() : 1, ' ') << f.help << "\n";
  }
}

void printTopHelp(std::ostream& os) {
  os << "rotor rotates certificate authorities and server certificates without orphaning clients.\n\n"
        "Usage: rotor [--local DIR | --kubeconfig FILE | --in-cluster] COMMAND [ARGS]\n"
        "As a kubectl plugin (installed as kubectl-rotor), kubectl's cluster is the default.\n\nCommands:\n";
  for (const Verb& v : verbs()) {
    os << "  " << v.name << std::string(12 - v.name.size(), ' ') << v.summary << "\n";
  }
  os << "\nGlobal flags:\n";
  printFlags(os, kGlobalFlags);
  os << "\nRun 'rotor COMMAND --help' for a command's flags.\n";
}

void printVerbHelp(std::ostream& os, const Verb& v) {
  os << v.summary << ".\n\nUsage: " << v.usage << "\n";
  if (!v.flags.empty()) {
    os << "\nFlags:\n";
    printFlags(os, v.flags);
  }
  os << "\nGlobal flags:\n";
  printFlags(os, kGlobalFlags);
}

Invocation parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& allowed) {
  Invocation inv;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      inv.positional.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool hasInlineValue = false;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        hasInlineValue = true;
      }
    } else {
      name = a.substr(1);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& f : allowed) {
      if (f.name == name || (!f.shortName.empty() && f.shortName == name)) spec = &f;
    }
    if (spec == nullptr) throw UsageError{"unknown flag " + a};
    if (spec->takesValue && !hasInlineValue) {
      if (i + 1 >= args.size()) throw UsageError{"flag " + a + " needs a value"};
      value = args[++i];
    }
    inv.flags[spec->name] = value;
  }
  return inv;
}

/** Whether `arg` is a global flag whose value is the next argument ("-n edge", "--local DIR",
 *  not "--local=DIR"), read from kGlobalFlags so that a new global flag is skipped too. */
bool globalFlagTakesSeparateValue(const std::string& arg) {
  for (const FlagSpec& f : kGlobalFlags) {
    if (f.takesValue && (arg == "--" + f.name || (!f.shortName.empty() && arg == "-" + f.shortName))) return true;
  }
  return false;
}

}  // namespace

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  Context ctx{in, out, err, {}};
  const std::string invokedAs = argc > 0 ? std::string(argv[0]) : "";
  ctx.asKubectlPlugin = invokedAs.substr(invokedAs.rfind('/') + 1) == "kubectl-rotor";
  std::vector<std::string> args(argv + 1, argv + argc);
  // The verb is the first argument that is neither a flag nor a global flag's value.
  const Verb* verb = nullptr;
  for (size_t i = 0; i < args.size(); ++i) {
    if (globalFlagTakesSeparateValue(args[i])) {
      ++i;
      continue;
    }
    if (!args[i].empty() && args[i][0] == '-') continue;
    for (const Verb& v : verbs()) {
      if (v.name == args[i]) verb = &v;
    }
    if (verb == nullptr && args[i] != "help") {
      err << "error: unknown command \"" << args[i] << "\"\n\n";
      printTopHelp(err);
      return 2;
    }
    args.erase(args.begin() + static_cast<long>(i));
    break;
  }
  if (verb == nullptr) {
    printTopHelp(args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  std::vector<FlagSpec> allowed = kGlobalFlags;
  allowed.insert(allowed.end(), verb->flags.begin(), verb->flags.end());
  try {
    Invocation inv = parse(args, allowed);
    if (inv.has("help")) {
      printVerbHelp(out, *verb);
      return 0;
    }
    return verb->handler(ctx, inv);
  } catch (const UsageError& e) {
    err << "error: " << e.message << "\n\nUsage: " << verb->usage << "\nRun 'rotor " << verb->name
        << " --help' for more.\n";
    return 2;
  } catch (const std::exception& e) {
    // A defect, not the user's input: say so and exit 1, never abort.
    err << "error: rotor " << verb->name << " failed unexpectedly: " << e.what()
        << "\n(this is a bug in rotor; please report it with the command that caused it)\n";
    return 1;
  }
}

}  // namespace rotor::cli
