#pragma once

#include <filesystem>

#include "controller/common/status.h"

namespace rotor::store::local {

/** An exclusive flock(2) on a file, released when destroyed (or when the process dies). */
class FileLock {
public:
  /** Waits for the lock. */
  static StatusOr<FileLock> acquire(const std::filesystem::path& path);
  /**
   * Takes the lock only if it is free, and records this process's pid in the file.
   * kFailedPrecondition names the pid that holds it.
   */
  static StatusOr<FileLock> tryAcquireExclusive(const std::filesystem::path& path, std::string_view holder);

  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace rotor::store::local
