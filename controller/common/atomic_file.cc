#include "controller/common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rotor {

namespace fs = std::filesystem;
namespace {

constexpr std::string_view kTemporaryMarker = ".tmp-";

Status errnoStatus(const std::string& what, const fs::path& path, int error) {
  std::string message = what + " " + path.string() + ": " + std::strerror(error);
  if (error == ENOENT || error == ENOTDIR) {
    return notFound(message);
  }
  if (error == EACCES || error == EPERM || error == EROFS) {
    return permissionDenied(message);
  }
  return unavailable(message);
}

/** Closes a descriptor on every path out. */
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

private:
  int fd_;
};

}  // namespace

Status syncDirectory(const fs::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return errnoStatus("could not open directory", dir, errno);
  }
  if (::fsync(fd.get()) != 0) {
    return errnoStatus("could not sync directory", dir, errno);
  }
  return okStatus();
}

bool isAtomicWriteTemporary(std::string_view name) {
  constexpr size_t kSuffix = 6;  // mkostemp's XXXXXX
  return name.size() > 1 + kTemporaryMarker.size() + kSuffix && name.front() == '.' &&
         name.substr(name.size() - kSuffix - kTemporaryMarker.size(), kTemporaryMarker.size()) == kTemporaryMarker;
}

Status writeFileAtomic(const fs::path& path, std::string_view content, mode_t mode) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + std::string(kTemporaryMarker) + "XXXXXX")).string();
  FileDescriptor fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return errnoStatus("could not create temporary file in", dir, errno);
  }
  const fs::path tmp(tmpl);
  auto fail = [&](const std::string& what) {
    int error = errno;
    ::unlink(tmp.c_str());
    return errnoStatus(what, path, error);  // the file meant, not the temporary one
  };
  if (::fchmod(fd.get(), mode) != 0) {
    return fail("could not set mode of");
  }
  size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("could not write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return fail("could not sync");
  }
  if (::close(fd.release()) != 0) {
    return fail("could not close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("could not rename a temporary file over");
  }
  return syncDirectory(dir);
}

StatusOr<std::optional<std::string>> readFileIfExists(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return errnoStatus("could not open", path, errno);
  }
  // Read straight into a string sized from fstat (large agent journals are read at every start);
  // keep reading past that size in case the file grew meanwhile.
  struct stat st {};
  std::string out(fstat(fd.get(), &st) == 0 && st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 16384, '\0');
  size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errnoStatus("could not read", path, errno);
    }
    if (n == 0) {
      break;
    }
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return std::optional<std::string>(std::move(out));
}

Status ensureDirectory(const fs::path& path, mode_t mode) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return okStatus();
  }
  if (path.has_parent_path() && path.parent_path() != path) {
    RETURN_IF_ERROR(ensureDirectory(path.parent_path(), mode));
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return errnoStatus("could not create directory", path, errno);
  }
  ::chmod(path.c_str(), mode);  // mkdir applies the umask; the mode is what was asked for
  return okStatus();
}

Status removeFile(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return okStatus();
    }
    return errnoStatus("could not remove", path, errno);
  }
  return syncDirectory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

}  // namespace rotor
