#include "controller/cli/invocation.h"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <sstream>

namespace rotor::cli {

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

int fail(Context& ctx, const Status& status) {
  ctx.err << "error: " << status.message() << "\n";
  return 1;
}

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

std::pair<LogLevel, LogFormat> logSettings(const Invocation& inv) {
  static const std::map<std::string, LogLevel> kLevels = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};
  const std::string format = inv.get("log-format", "text");
  auto level = kLevels.find(inv.get("log-level", "info"));
  if (format != "text" && format != "json") throw UsageError{"--log-format must be text or json"};
  if (level == kLevels.end()) throw UsageError{"--log-level must be debug, info, warn or error"};
  return {level->second, format == "json" ? LogFormat::kJson : LogFormat::kText};
}

size_t countFlag(const Invocation& inv, const std::string& flag, size_t fallback) {
  if (!inv.has(flag)) return fallback;
  const std::string text = inv.get(flag);
  size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw UsageError{"--" + flag + " must be a whole number"};
  return value;
}

Duration durationFlag(const Invocation& inv, const std::string& flag, Duration fallback) {
  if (!inv.has(flag)) return fallback;
  auto d = parseDuration(inv.get(flag));
  if (!d.ok() || *d <= Duration::zero()) throw UsageError{"--" + flag + " must be a duration such as 15s"};
  return *d;
}

sigset_t blockStopSignals(bool once) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  if (!once) pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

}  // namespace rotor::cli
