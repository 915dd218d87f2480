#include "controller/store/local/file_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace rotor::store::local {
namespace {

using rotor::testing::StatusIs;
using ::testing::HasSubstr;

/** A pipe whose ends close with it. */
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds) ::close(fd);
  }
  void send(char c) const { EXPECT_EQ(::write(fds[1], &c, 1), 1); }
  char receive() const {
    char c = 0;
    return ::read(fds[0], &c, 1) == 1 ? c : '\0';
  }
};

/** Whether another process can take the lock now (it lets go at once). */
bool anotherProcessCanTake(const std::filesystem::path& path) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(ProcessLock::tryAcquire(path, "test").ok() ? 0 : 1);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

class ProcessLockTest : public ::testing::Test {
protected:
  rotor::testing::TempDir dir;
  std::filesystem::path path = dir.path() / "controller.lock";
};

TEST_F(ProcessLockTest, AnotherProcessIsRefusedAndToldWhoHoldsIt) {
  Pipe held, done;
  pid_t owner = ::fork();
  if (owner == 0) {
    auto lock = ProcessLock::tryAcquire(path, "rotor controller");
    held.send(lock.ok() ? 'y' : 'n');
    done.receive();
    ::_exit(0);
  }
  ASSERT_EQ(held.receive(), 'y');
  EXPECT_THAT(ProcessLock::tryAcquire(path, "rotor controller"),
              StatusIs(Code::kFailedPrecondition, HasSubstr("another rotor controller already holds " + path.string() +
                                                            " (pid " + std::to_string(owner) + ")")));
  EXPECT_EQ(dir.read("controller.lock"), "pid " + std::to_string(owner) + "\n");
  done.send('x');
  ::waitpid(owner, nullptr, 0);
  EXPECT_OK(ProcessLock::tryAcquire(path, "rotor controller"));
}

// The owner forks (as it does for a reload command) and dies before its child execs: the child's
// copy of the descriptor must not keep the owner's successor out.
TEST_F(ProcessLockTest, IsFreeOnceTheOwnerDiesThoughAChildItForkedStillHasTheDescriptor) {
  Pipe events, release;
  pid_t owner = ::fork();
  if (owner == 0) {
    auto lock = ProcessLock::tryAcquire(path, "rotor controller");
    if (!lock.ok()) {
      events.send('n');
      ::_exit(1);
    }
    if (::fork() == 0) {
      // The child, holding every descriptor its parent had, lives until the test lets it go.
      ::close(release.fds[1]);
      events.send('c');
      release.receive();
      ::_exit(0);
    }
    events.send('y');
    ::pause();  // until killed, as a controller is
  }
  const std::string seen{events.receive(), events.receive()};
  ASSERT_THAT(seen, ::testing::AllOf(HasSubstr("c"), HasSubstr("y")));
  ::kill(owner, SIGKILL);
  ::waitpid(owner, nullptr, 0);
  EXPECT_TRUE(anotherProcessCanTake(path));
  EXPECT_OK(ProcessLock::tryAcquire(path, "rotor controller"));
  release.send('x');
}

TEST_F(ProcessLockTest, ASecondLockInTheSameProcessIsRefusedAndLeavesTheFirstHeld) {
  auto first = ProcessLock::tryAcquire(path, "rotor controller");
  ASSERT_OK(first);
  EXPECT_THAT(ProcessLock::tryAcquire(dir.path() / "." / "controller.lock", "rotor controller"),
              StatusIs(Code::kFailedPrecondition, HasSubstr("in this process already holds")));
  EXPECT_FALSE(anotherProcessCanTake(path));
  { auto released = std::move(first).value(); }
  EXPECT_TRUE(anotherProcessCanTake(path));
  EXPECT_OK(ProcessLock::tryAcquire(path, "rotor controller"));
}

}  // namespace
}  // namespace rotor::store::local
