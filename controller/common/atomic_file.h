#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "controller/common/status.h"

namespace rotor {

inline constexpr mode_t kPrivateFileMode = 0600;
inline constexpr mode_t kPublicFileMode = 0644;
inline constexpr mode_t kPrivateDirMode = 0700;

/** An open file descriptor, closed when it goes. */
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  /** Closes the descriptor held (returning close's result) and holds `fd` instead. */
  int reset(int fd = -1);

private:
  int fd_ = -1;
};

/**
 * Replaces `path` with `content` so that readers see the old or the new file, never a mix, even
 * across a crash or power loss: write a temporary file in the same directory, fsync it, rename it
 * over `path`, fsync the directory. The file gets `mode` before any byte is written.
 * kUnavailable (with errno's text and the path) when the file system refuses.
 */
Status writeFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

/**
 * writeFileAtomic in steps, for a writer that prepares a large replacement without holding a
 * lock and replaces the file under it: a temporary file beside `path`, written by append(), that
 * replaces `path` only on commit() (fsync, rename, fsync of the directory). Removed unless
 * committed.
 */
class StagedFile {
public:
  static StatusOr<StagedFile> create(const std::filesystem::path& path, mode_t mode);
  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&&) = delete;
  ~StagedFile();

  Status append(std::string_view bytes);
  Status commit();

private:
  StagedFile(std::filesystem::path path, std::filesystem::path temporary, UniqueFd fd)
      : path_(std::move(path)), temporary_(std::move(temporary)), fd_(std::move(fd)) {}
  /** Removes the temporary file and returns `what` failing on `path`, with errno's text. */
  Status fail(const std::string& what);

  std::filesystem::path path_;
  std::filesystem::path temporary_;
  UniqueFd fd_;
  bool committed_ = false;
};

/** Whether `name` is a temporary file writeFileAtomic makes (".NAME.tmp-XXXXXX"): one that is
 *  still there after every writer stopped was abandoned by a crash mid-write. */
bool isAtomicWriteTemporary(std::string_view name);

/** The bytes of an open file from offset `from` to its end (`path` names it in errors). */
StatusOr<std::string> readFileFrom(const UniqueFd& fd, off_t from, const std::filesystem::path& path);

/** The file's bytes, or nullopt when it does not exist. */
StatusOr<std::optional<std::string>> readFileIfExists(const std::filesystem::path& path);

/** Creates the directory and missing parents with `mode`; an existing one is left as it is. */
Status ensureDirectory(const std::filesystem::path& path, mode_t mode);

/** Removes the file if it exists and fsyncs its directory. */
Status removeFile(const std::filesystem::path& path);

/** fsync of a directory, so that a rename or unlink in it survives a crash. */
Status syncDirectory(const std::filesystem::path& dir);

}  // namespace rotor
