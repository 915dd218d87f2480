#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor {

inline constexpr mode_t kPrivateFileMode = 0600;
inline constexpr mode_t kPublicFileMode = 0644;
inline constexpr mode_t kPrivateDirMode = 0700;

/**
 * Replaces `path` with `content` so that readers see the old or the new file, never a mix, even
 * across a crash or power loss: write a temporary file in the same directory, fsync it, rename it
 * over `path`, fsync the directory. The file gets `mode` before any byte is written.
 * kUnavailable (with errno's text and the path) when the file system refuses.
 */
Status writeFileAtomic(const std::filesystem::path& path, std::string_view content, mode_t mode);

/** Whether `name` is a temporary file writeFileAtomic makes (".NAME.tmp-XXXXXX"): one that is
 *  still there after every writer stopped was abandoned by a crash mid-write. */
bool isAtomicWriteTemporary(std::string_view name);

/** The file's bytes, or nullopt when it does not exist. */
StatusOr<std::optional<std::string>> readFileIfExists(const std::filesystem::path& path);

/** Creates the directory and missing parents with `mode`; an existing one is left as it is. */
Status ensureDirectory(const std::filesystem::path& path, mode_t mode);

/** Removes the file if it exists and fsyncs its directory. */
Status removeFile(const std::filesystem::path& path);

/** fsync of a directory, so that a rename or unlink in it survives a crash. */
Status syncDirectory(const std::filesystem::path& dir);

}  // namespace rotor
