#pragma once

// What every verb's handler gets and shares: the command line parsed against the verb's flag
// table, the streams and the clock, and the helpers that read flags, open the state directory or
// cluster and read manifests.

#include <csignal>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/cli/backend.h"
#include "controller/common/clock.h"
#include "controller/common/duration.h"
#include "controller/common/log.h"
#include "controller/common/status.h"

namespace rotor::cli {

inline constexpr const char* kVersion = "0.1.0";

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

/** A usage error: exit code 2. */
struct UsageError {
  std::string message;
};

/** The flags and positional arguments of `args`; a UsageError for a flag `allowed` lacks. */
Invocation parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& allowed);

int fail(Context& ctx, const Status& status);
/** The state directory or cluster the flags name; sets ctx.ns. */
StatusOr<std::unique_ptr<Backend>> openStore(Context& ctx, const Invocation& inv);
StatusOr<std::string> readInput(Context& ctx, const std::string& file);
api::ObjectKey keyFrom(const Context& ctx, const std::string& name);
/** --log-format and --log-level; a usage error for anything else. */
std::pair<LogLevel, LogFormat> logSettings(const Invocation& inv);
/** A whole-number flag, or `fallback` when it is not given. */
size_t countFlag(const Invocation& inv, const std::string& flag, size_t fallback);
/** A duration flag, or its default; a usage error naming the flag otherwise. */
Duration durationFlag(const Invocation& inv, const std::string& flag, Duration fallback);
/**
 * For the long-running verbs: SIGTERM and SIGINT are blocked (unless the verb runs once) before
 * any thread starts, so that only the caller's sigwait on the returned set sees them; SIGPIPE is
 * ignored, so that a peer hanging up mid-write fails that connection, not the process.
 */
sigset_t blockStopSignals(bool once);

}  // namespace rotor::cli
