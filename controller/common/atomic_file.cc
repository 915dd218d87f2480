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

}  // namespace

int UniqueFd::reset(int fd) {
  const int result = fd_ >= 0 ? ::close(fd_) : 0;
  fd_ = fd;
  return result;
}

Status syncDirectory(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
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

StatusOr<StagedFile> StagedFile::create(const fs::path& path, mode_t mode) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + std::string(kTemporaryMarker) + "XXXXXX")).string();
  UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return errnoStatus("could not create temporary file in", dir, errno);
  }
  const int raw = fd.get();
  StagedFile file(path, fs::path(tmpl), std::move(fd));
  if (::fchmod(raw, mode) != 0) {
    return file.fail("could not set mode of");
  }
  return file;
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)),
      temporary_(std::move(other.temporary_)),
      fd_(std::move(other.fd_)),
      committed_(std::exchange(other.committed_, true)) {}

StagedFile::~StagedFile() {
  fd_.reset();
  if (!committed_) ::unlink(temporary_.c_str());
}

Status StagedFile::fail(const std::string& what) {
  const int error = errno;
  fd_.reset();
  ::unlink(temporary_.c_str());
  committed_ = true;                       // nothing left to remove
  return errnoStatus(what, path_, error);  // the file meant, not the temporary one
}

Status StagedFile::append(std::string_view bytes) {
  if (!fd_.valid()) return failedPrecondition("staged file for " + path_.string() + " is already closed");
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd_.get(), bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("could not write");
    }
    written += static_cast<size_t>(n);
  }
  return okStatus();
}

Status StagedFile::commit() {
  if (!fd_.valid()) return failedPrecondition("staged file for " + path_.string() + " is already closed");
  if (::fsync(fd_.get()) != 0) {
    return fail("could not sync");
  }
  if (fd_.reset() != 0) {
    return fail("could not close");
  }
  if (::rename(temporary_.c_str(), path_.c_str()) != 0) {
    return fail("could not rename a temporary file over");
  }
  committed_ = true;
  return syncDirectory(path_.has_parent_path() ? path_.parent_path() : fs::path("."));
}

Status writeFileAtomic(const fs::path& path, std::string_view content, mode_t mode) {
  ASSIGN_OR_RETURN(StagedFile file, StagedFile::create(path, mode));
  RETURN_IF_ERROR(file.append(content));
  return file.commit();
}

StatusOr<std::string> readFileFrom(const UniqueFd& fd, off_t from, const fs::path& path) {
  // Read straight into a string sized from fstat (large agent journals are read at every start);
  // keep reading past that size in case the file grew meanwhile.
  struct stat st {};
  const off_t size = fstat(fd.get(), &st) == 0 ? st.st_size : 0;
  std::string out(size > from ? static_cast<size_t>(size - from) + 1 : 16384, '\0');
  size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(out.size() * 2);
    ssize_t n = ::pread(fd.get(), out.data() + used, out.size() - used, from + static_cast<off_t>(used));
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
  return out;
}

StatusOr<std::optional<std::string>> readFileIfExists(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return errnoStatus("could not open", path, errno);
  }
  ASSIGN_OR_RETURN(std::string content, readFileFrom(fd, 0, path));
  return std::optional<std::string>(std::move(content));
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
