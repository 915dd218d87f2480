#include "controller/store/local/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "controller/common/strings.h"

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

StatusOr<FileLock> FileLock::tryAcquireExclusive(const std::filesystem::path& path, std::string_view holder) {
  ASSIGN_OR_RETURN(int fd, openLockFile(path));
  FileLock lock(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string owner;
    char buffer[256] = {};
    ssize_t n = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
    if (n > 0) {
      owner = std::string(trim(std::string_view(buffer, static_cast<size_t>(n))));
    }
    return failedPrecondition("another " + std::string(holder) + " already holds " + path.string() +
                              (owner.empty() ? "" : " (" + owner + ")"));
  }
  std::string me = "pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    return unavailable("could not record owner in " + path.string() + ": " + std::strerror(errno));
  }
  return lock;
}

}  // namespace rotor::store::local
