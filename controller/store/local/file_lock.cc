#include "controller/store/local/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

namespace rotor::store::local {
namespace {

StatusOr<int> openLockFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    int error = errno;
    std::string message = "could not open lock file " + path.string() + ": " + std::strerror(error);
    return error == EACCES || error == EROFS ? permissionDenied(message) : unavailable(message);
  }
  return fd;
}

/**
 * The files this process holds a ProcessLock on: a second record lock on one of them would
 * succeed (the process owns the first), and closing its descriptor would release the first.
 */
std::set<std::filesystem::path>& processLocks(std::unique_lock<std::mutex>& guard) {
  static std::mutex mutex;
  static std::set<std::filesystem::path> held;
  guard = std::unique_lock(mutex);
  return held;
}

}  // namespace

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::close(fd_);  // closing releases the flock
  }
}

StatusOr<FileLock> FileLock::acquire(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(int fd, openLockFile(path));
  FileLock lock(fd);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      return unavailable("could not lock " + path.string() + ": " + std::strerror(errno));
    }
  }
  return lock;
}

StatusOr<ProcessLock> ProcessLock::tryAcquire(const std::filesystem::path& path, std::string_view holder) {
  std::error_code ec;
  std::filesystem::path key = std::filesystem::absolute(path, ec).lexically_normal();
  {
    std::unique_lock<std::mutex> guard;
    if (!processLocks(guard).insert(key).second) {
      return failedPrecondition("another " + std::string(holder) + " in this process already holds " + path.string());
    }
  }
  auto fd = openLockFile(path);
  if (!fd.ok()) {
    std::unique_lock<std::mutex> guard;
    processLocks(guard).erase(key);
    return fd.status();
  }
  ProcessLock lock(*fd, std::move(key));
  struct flock wholeFile = {};
  wholeFile.l_type = F_WRLCK;
  wholeFile.l_whence = SEEK_SET;
  if (::fcntl(*fd, F_SETLK, &wholeFile) != 0) {
    if (errno != EACCES && errno != EAGAIN) {
      return unavailable("could not lock " + path.string() + ": " + std::strerror(errno));
    }
    struct flock owner = wholeFile;
    const bool known = ::fcntl(*fd, F_GETLK, &owner) == 0 && owner.l_type != F_UNLCK && owner.l_pid > 0;
    return failedPrecondition("another " + std::string(holder) + " already holds " + path.string() +
                              (known ? " (pid " + std::to_string(owner.l_pid) + ")" : ""));
  }
  // For people and tools that look: the lock itself says who holds it.
  std::string me = "pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(*fd, 0) != 0 || ::pwrite(*fd, me.data(), me.size(), 0) < 0) {
    return unavailable("could not record owner in " + path.string() + ": " + std::strerror(errno));
  }
  return lock;
}

ProcessLock& ProcessLock::operator=(ProcessLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

ProcessLock::~ProcessLock() { release(); }

void ProcessLock::release() {
  if (fd_ < 0) return;
  ::close(fd_);  // closing releases the process's record locks on the file
  fd_ = -1;
  std::unique_lock<std::mutex> guard;
  processLocks(guard).erase(path_);
}

}  // namespace rotor::store::local
