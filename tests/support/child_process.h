#pragma once

// A process a test starts (the rotor binary as a controller or agent), its output in a file,
// stopped when the test ends: SIGTERM, then SIGKILL if it lingers.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rotor::testing {

class ChildProcess {
public:
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& output);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  /** The exit status (or 128 + signal) once it ends within `timeout`, else nullopt. */
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /** What it has written so far. */
  std::string output() const;

private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path output_;
};

/** A TCP port on 127.0.0.1 that was free a moment ago. */
int freeLoopbackPort();

/** The rotor binary built beside the tests. */
std::string rotorBinary();

}  // namespace rotor::testing
