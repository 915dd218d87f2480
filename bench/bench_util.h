#pragma once

// What the benchmarks share: clocks, resident memory, child processes measured by wait4, and the
// table rows bench/run gathers ("ROW | figure | rotor | baseline | ratio | target |").

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "reconcilers/context.h"

extern char** environ;

namespace rotor::bench {

inline double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

inline long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

/** Events go nowhere: the benchmarks time reconciles, not their reports. */
class NoEvents final : public reconcilers::EventRecorder {
public:
  void record(const api::CertificateRotation&, reconcilers::EventType, const std::string&,
              const std::string&) override {}
};

/** User plus system CPU time of this process so far. */
inline double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/** The value at `fraction` (0.5, 0.99) of the way through `values` in order; 0 when empty. */
template <typename T>
double percentile(std::vector<T> values, double fraction) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(fraction * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<long>(at), values.end());
  return static_cast<double>(values[at]);
}

/** printf to a std::string. */
inline std::string format(const char* fmt, ...) {
  va_list args, again;
  va_start(args, fmt);
  va_copy(again, args);
  std::string out(static_cast<size_t>(std::max(0, std::vsnprintf(nullptr, 0, fmt, args))), '\0');
  va_end(args);
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

/** One row of bench/run's table. */
inline void row(const std::string& figure, const std::string& rotor, const std::string& baseline,
                const std::string& ratio, const std::string& target) {
  std::printf("ROW | %s | %s | %s | %s | %s |\n", figure.c_str(), rotor.c_str(), baseline.c_str(), ratio.c_str(),
              target.c_str());
  std::fflush(stdout);
}

/** What a finished child cost. */
struct ChildCost {
  int exitCode = -1;
  double wallSeconds = 0;
  double cpuSeconds = 0;  // user + system
  long maxResidentBytes = 0;
};

/** Runs argv to completion with stdout and stderr sent to `logPath`. */
inline ChildCost runMeasured(const std::vector<std::string>& argv, const std::string& logPath) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  ChildCost cost;
  const bool started = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) == 0;
  posix_spawn_file_actions_destroy(&actions);
  if (!started) return cost;
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  cost.wallSeconds = secondsSince(start);
  const auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  cost.cpuSeconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  cost.maxResidentBytes = usage.ru_maxrss * 1024L;
  cost.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return cost;
}

}  // namespace rotor::bench
