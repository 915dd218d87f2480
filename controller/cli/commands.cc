#include "controller/cli/commands.h"

#include <iostream>

#include "controller/cli/verbs.h"

namespace rotor::cli {
namespace {

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
        {"adoption-request-timeout", "", true,
         "how long a client may take over a TLS handshake, a request's headers or body, or an answer (default 10s)"},
        {"agent-flush-interval", "", true,
         "how often check-ins that changed something are persisted (default 1s; 10s in a cluster)"},
        {"agent-last-seen-refresh", "", true, "how often an agent's last-seen time alone is persisted (default 5m)"},
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
       "[--interval D] [--once]\n"
       "       rotor agent --report-pod --trust-store FILE (--in-cluster | --kubeconfig F) [--pod NS/NAME] "
       "[--interval D]",
       "Run the reference agent: keep FILE in step with the rotation's bundle and report what it trusts; or, with "
       "--report-pod, a sidecar that annotates its pod with the digest of the mounted bundle FILE whenever it "
       "changes (rotor.dev/bundle-digest, counted by spec.adoption.pods)",
       {{"server", "", true, "the adoption API, e.g. https://rotor.example.com:8444"},
        {"rotation", "", true, "the rotation, as NAMESPACE/NAME or NAME"},
        {"id", "", true, "this agent's id (1-128 of A-Z a-z 0-9 . _ : -)"},
        {"token-file", "", true, "file holding the bearer token (rotor token NAME --file F)"},
        {"client-cert", "", true, "client certificate for mTLS instead of a token"},
        {"client-key", "", true, "the client certificate's key"},
        {"trust-store", "", true, "the PEM trust store to keep up to date (written atomically)"},
        {"server-ca", "", true, "verify the adoption API against this CA instead of the system's"},
        {"interval", "", true,
         "how often to sync (default 30s; failures back off up to 5m); with --report-pod, how often to read FILE "
         "(default 5s)"},
        {"report-pod", "", false,
         "annotate this pod with the digest of --trust-store, the bundle file its application reloads"},
        {"pod", "", true, "with --report-pod: the pod to annotate (default: $POD_NAMESPACE/$POD_NAME, downward API)"},
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
       "rotor rotate NAME [--renew | --renew-ca]",
       "Start a CA rotation (or, with --renew, a renewal under the same CA)",
       {{"renew", "", false, "renew the server certificates under the current CA"},
        {"renew-ca", "", false,
         "re-issue the CA certificate with the same key and subject, then renew the servers under it: no "
         "adoption round (clients that trust the old certificate accept it while that is valid); a generated CA "
         "only"}},
       runRotate},
      {"pause", "rotor pause NAME", "Pause a rotation where it stands", {}, runPause},
      {"resume", "rotor resume NAME", "Resume a paused rotation", {}, runResume},
      {"rollback",
       "rotor rollback NAME [--to SNAPSHOT] [--skip-adoption]",
       "Restore a snapshot (default: the latest; a rotation that has swapped nothing is abandoned instead)",
       {{"to", "", true, "the snapshot to restore (rotor snapshots NAME lists them)"},
        {"skip-adoption", "", false,
         "emergency: restore at once even if clients no longer trust the snapshot's CA (they fail until they "
         "learn it again); also speeds up a rollback already waiting"}},
       runRollback},
      {"abandon",
       "rotor abandon NAME",
       "Abandon a rotation that has not swapped anything: the staged CA leaves the bundle",
       {},
       runAbandon},
      {"approve",
       "rotor approve NAME",
       "Let a rotation waiting at the adoption gate swap now (the way through with adoption.mode Manual)",
       {},
       runApprove},
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
