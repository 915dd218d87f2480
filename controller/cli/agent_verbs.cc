// rotor token, rotor agents and rotor agent.
#include "controller/cli/verbs.h"

#include <csignal>
#include <functional>
#include <map>
#include <thread>

#include <openssl/rand.h>
#include "controller/agent/agent.h"
#include "controller/agent/pod_reporter.h"
#include "controller/api/validate.h"
#include "controller/cli/output.h"
#include "controller/cli/report.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/pki/digest.h"
#include "reconcilers/gates.h"

namespace rotor::cli {

namespace {

/** A new bearer token: "rotor_" and 64 hex digits from the system's CSPRNG. */
StatusOr<std::string> newToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return unavailable("the random number generator failed");
  return "rotor_" + hexEncode(bytes);
}

}  // namespace

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
  if (!agents.empty()) {
    std::vector<std::vector<std::string>> rows = {{"AGENT", "STATE", "LAST SEEN", "VERSION", "TRUSTS"}};
    for (const auto& [a, state] : agents) {
      rows.push_back({a.id, std::string(state),
                      formatAge(std::chrono::duration_cast<Duration>(now - a.lastSeen)) + " ago",
                      a.version.empty() ? "-" : a.version, std::to_string(a.trusted.size()) + " CA(s)"});
    }
    ctx.out << formatTable(rows);
  }
  // Clients without agents, as the controller last counted them (spec.adoption.pods).
  if (r->status.pods && want.empty()) ctx.out << "\n" << formatConsumerPods(*r->status.pods);
  return 0;
}

namespace {

/** Runs `loop` on a thread of its own until a stop signal (blocked beforehand into `signals`). */
void runUntilSignalled(const sigset_t& signals, const std::function<void(std::stop_token)>& loop) {
  std::jthread thread(loop);
  int received = 0;
  sigwait(&signals, &received);
  thread.request_stop();
  thread.join();
}

/** `rotor agent --report-pod`: the sidecar of agent::PodReporter. */
int runPodReporter(Context& ctx, const Invocation& inv) {
  if (!inv.has("trust-store")) throw UsageError{"agent --report-pod needs --trust-store"};
  for (const char* f : {"server", "rotation", "id", "token-file", "client-cert", "once"}) {
    if (inv.has(f)) throw UsageError{std::string("agent --report-pod takes no --") + f};
  }
  std::string pod = inv.get("pod");
  if (pod.empty()) {
    const char* ns = std::getenv("POD_NAMESPACE");
    const char* name = std::getenv("POD_NAME");
    if (ns == nullptr || name == nullptr || *ns == '\0' || *name == '\0') {
      throw UsageError{"agent --report-pod needs --pod NS/NAME, or POD_NAMESPACE and POD_NAME from the downward API"};
    }
    pod = std::string(ns) + "/" + name;
  }
  const size_t slash = pod.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == pod.size()) throw UsageError{"--pod must be NS/NAME"};
  agent::PodReporterOptions options{.bundleFile = inv.get("trust-store")};
  if (inv.has("interval")) {
    auto interval = parseDuration(inv.get("interval"));
    if (!interval.ok() || *interval <= Duration::zero()) throw UsageError{"--interval must be a duration like 5s"};
    options.interval = *interval;
  }
  auto backend = openStore(ctx, inv);
  if (!backend.ok()) return fail(ctx, backend.status());
  kube::Client* client = (*backend)->client();
  if (client == nullptr) throw UsageError{"agent --report-pod needs a cluster (--in-cluster or --kubeconfig)"};
  const std::string ns = pod.substr(0, slash), name = pod.substr(slash + 1);
  const auto annotate = [client, ns, name](const std::string& digest) {
    const nlohmann::json patch = {
        {"metadata", {{"annotations", {{std::string(api::kBundleDigestAnnotation), digest}}}}}};
    return client->patch(kube::kPods, ns, name, kube::PatchType::kMerge, patch).status();
  };
  const auto [level, format] = logSettings(inv);
  Logger log(ctx.err, ctx.clock, level, format);
  const sigset_t signals = blockStopSignals(false);
  agent::PodReporter reporter(options, annotate, log);
  log.info("Started the pod reporter", {{"pod", pod}, {"file", options.bundleFile}});
  runUntilSignalled(signals, [&reporter](std::stop_token stop) { reporter.run(stop); });
  log.info("Stopped the pod reporter");
  return 0;
}

}  // namespace

int runAgent(Context& ctx, const Invocation& inv) {
  if (inv.has("report-pod")) return runPodReporter(ctx, inv);
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
  runUntilSignalled(signals, [&a](std::stop_token stop) { a.run(stop); });
  log.info("Stopped agent");
  return 0;
}

}  // namespace rotor::cli
