#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace rotor::testing {

/** A fresh directory under $TMPDIR, removed with everything in it when destroyed. */
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /** Writes `content` to `relative` (creating directories) and returns the full path. */
  std::filesystem::path write(const std::string& relative, const std::string& content) const;
  /** The file's content, or "" when it does not exist. */
  std::string read(const std::string& relative) const;

private:
  std::filesystem::path path_;
};

/** Every regular file below `dir` (relative path → bytes): compares whole trees. */
std::map<std::string, std::string> snapshotTree(const std::filesystem::path& dir);

/** The directory holding the repository (ROTOR_SOURCE_DIR, set by ctest). */
std::filesystem::path sourceDir();

/** A file of the repository by its path from the top ("examples/local-nginx.yaml"); "" if absent. */
std::string readSourceFile(const std::string& relative);

/** The permission bits of `path` (0600 for a key file). */
unsigned permissionsOf(const std::filesystem::path& path);

/** Runs a shell command; returns its exit status and fills `output` with stdout+stderr. */
int runShell(const std::string& command, std::string* output = nullptr);

}  // namespace rotor::testing
