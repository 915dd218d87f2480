#pragma once

#include <filesystem>
#include <string_view>
#include <utility>

#include "controller/common/status.h"

namespace rotor::store::local {

/**
 * An exclusive flock(2) on a file, released when destroyed (or when the process dies). Separate
 * opens exclude each other, so threads of one process take turns as processes do.
 */
class FileLock {
public:
  /** Waits for the lock. */
  static StatusOr<FileLock> acquire(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/**
 * A lock that marks one process as the owner of a file, such as the controller of a state
 * directory: a POSIX record lock (fcntl F_SETLK), which belongs to the process alone. A child the
 * owner forks does not share it, so when the owner dies the lock is free at once, even while a
 * reload command it forked has yet to exec (and close its copy of the descriptor); an flock would
 * be held by that copy and refuse the owner's successor. One process holds a given file once.
 */
class ProcessLock {
public:
  /**
   * Takes the lock only if it is free, and records this process's pid in the file.
   * kFailedPrecondition names the `holder` and the pid that holds it.
   */
  static StatusOr<ProcessLock> tryAcquire(const std::filesystem::path& path, std::string_view holder);

  ProcessLock(ProcessLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}
  ProcessLock& operator=(ProcessLock&& other) noexcept;
  ProcessLock(const ProcessLock&) = delete;
  ProcessLock& operator=(const ProcessLock&) = delete;
  ~ProcessLock();

private:
  ProcessLock(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  void release();
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace rotor::store::local
