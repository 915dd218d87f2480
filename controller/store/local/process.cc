#include "controller/store/local/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "controller/common/strings.h"

namespace rotor::store::local {
namespace {

constexpr size_t kOutputTail = 1024;

std::string describeArgv(const std::vector<std::string>& argv) { return "\"" + argv.front() + "\""; }

}  // namespace

Status runCommand(const std::vector<std::string>& argv, const std::filesystem::path& workingDirectory,
                  std::chrono::milliseconds timeout) {
  if (argv.empty() || argv.front().empty()) {
    return invalidArgument("empty command");
  }
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) {
    return unavailable(std::string("could not create pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipeFds[0]);
    ::close(pipeFds[1]);
    return unavailable(std::string("could not fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: own process group (so a timeout kills its children too), output into the pipe.
    ::setpgid(0, 0);
    ::dup2(pipeFds[1], STDOUT_FILENO);
    ::dup2(pipeFds[1], STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    if (::chdir(workingDirectory.c_str()) != 0) {
      ::_exit(126);
    }
    ::execvp(args[0], args.data());
    const char* msg = "exec failed\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  ::close(pipeFds[1]);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timedOut = false;
  for (bool open = true; open;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    pollfd p{pipeFds[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (ready > 0) {
      char buffer[4096];
      ssize_t n = ::read(pipeFds[0], buffer, sizeof(buffer));
      if (n <= 0) {
        open = false;  // every writer closed: the command (and its children) are done with it
      } else {
        output.append(buffer, static_cast<size_t>(n));
        if (output.size() > kOutputTail) {
          output.erase(0, output.size() - kOutputTail);
        }
      }
    }
  }
  ::close(pipeFds[0]);
  if (timedOut) {
    ::kill(-pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timedOut) {
    return Status(Code::kDeadlineExceeded, "command " + describeArgv(argv) + " did not finish within " +
                                               std::to_string(timeout.count()) + "ms and was killed");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return okStatus();
  }
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  // The tail may start inside a character, and a command may print anything: status is JSON.
  output = validUtf8(output);
  return failedPrecondition("command " + describeArgv(argv) + " " + how + (output.empty() ? "" : ": " + output));
}

}  // namespace rotor::store::local
