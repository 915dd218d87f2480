#include "controller/store/local/agent_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "controller/common/atomic_file.h"

namespace rotor::store::local {
namespace {

constexpr std::string_view kMagic = "rotor-agents 1 ";
constexpr std::string_view kPrefix = "sha256:";
// Compaction waits for at least this much growth so that a small registry is not rewritten on
// every batch.
constexpr uint64_t kMinCompactionGrowth = 1 << 20;

Status posixError(const std::filesystem::path& path, const char* what) {
  return unavailable(std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

Status appendLine(std::string& out, const AgentRecord& a) {
  RETURN_IF_ERROR(validateAgentRecord(a));
  out += a.id;
  out += ' ';
  out += std::to_string(std::chrono::duration_cast<std::chrono::seconds>(a.lastSeen.time_since_epoch()).count());
  out += ' ';
  out += a.version.empty() ? "-" : a.version;
  out += ' ';
  if (a.trusted.empty()) out += '-';
  for (size_t i = 0; i < a.trusted.size(); ++i) {
    if (i > 0) out += ',';
    out += std::string_view(a.trusted[i]).substr(kPrefix.size());
  }
  out += '\n';
  return okStatus();
}

/** The four space-separated fields of a record line. */
struct Fields {
  std::string_view id, seen, version, trusted;
};

bool splitFields(std::string_view line, Fields& f) {
  std::string_view* out[] = {&f.id, &f.seen, &f.version, &f.trusted};
  for (int i = 0; i < 4; ++i) {
    size_t sp = i < 3 ? line.find(' ') : line.size();
    if (sp == std::string_view::npos || sp == 0) return false;
    *out[i] = line.substr(0, sp);
    line.remove_prefix(std::min(line.size(), sp + 1));
  }
  return line.empty();
}

bool parseRecord(const Fields& f, AgentRecord& a) {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(f.seen.data(), f.seen.data() + f.seen.size(), seconds);
  if (ec != std::errc() || end != f.seen.data() + f.seen.size()) return false;
  a.id.assign(f.id);
  a.lastSeen = SystemTime(std::chrono::seconds(seconds));
  if (f.version == "-") {
    a.version.clear();
  } else {
    a.version.assign(f.version);
  }
  // Assigns into the strings already there: a reader reuses one record for every line.
  size_t count = 0;
  if (f.trusted != "-") {
    std::string_view rest = f.trusted;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view hex = rest.substr(0, comma);
      if (!isSha256Hex(hex)) return false;
      if (count == a.trusted.size()) a.trusted.emplace_back();
      a.trusted[count].assign(kPrefix).append(hex);
      ++count;
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    }
  }
  a.trusted.resize(count);
  return true;
}

/** Bytes after the last compaction, from the header; 0 when the file is absent or has none. */
uint64_t compactedSize(std::string_view text) {
  if (!text.starts_with(kMagic)) return 0;
  std::string_view rest = text.substr(kMagic.size());
  uint64_t n = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), n);
  return n;
}

std::string header(uint64_t compactedBytes) { return std::string(kMagic) + std::to_string(compactedBytes) + "\n"; }

/** Cuts a line torn by a crash off the end of an open journal; returns the new size. */
StatusOr<off_t> cutTornTail(int fd, const std::filesystem::path& path) {
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0) return posixError(path, "cannot seek");
  off_t end = size;
  char buf[4096];
  while (end > 0) {
    off_t from = std::max<off_t>(0, end - static_cast<off_t>(sizeof buf));
    ssize_t n = pread(fd, buf, static_cast<size_t>(end - from), from);
    if (n < 0) return posixError(path, "cannot read");
    const void* nl = memrchr(buf, '\n', static_cast<size_t>(n));
    if (nl != nullptr) {
      end = from + (static_cast<const char*>(nl) - buf) + 1;
      break;
    }
    end = from;
  }
  if (end != size && ftruncate(fd, end) != 0) return posixError(path, "cannot truncate");
  return end;
}

/** Visits the latest record of each agent in the journal text `all`, read from `path`. */
Status visitText(const std::filesystem::path& path, std::string_view all,
                 const std::function<void(const AgentRecord&)>& fn) {
  if (!all.starts_with(kMagic)) {
    return failedPrecondition("agent journal " + path.string() + " has no rotor-agents header");
  }
  const auto damaged = [&](size_t at) {
    return failedPrecondition("agent journal " + path.string() + " is damaged at byte " + std::to_string(at));
  };
  // Calls each(offset, fields) for every complete line in [from, to): a final line without '\n'
  // was torn by a crash and does not count.
  const auto forEachLine = [&](size_t from, size_t to, const auto& each) -> Status {
    while (from < to) {
      const size_t nl = all.find('\n', from);
      if (nl == std::string_view::npos) break;
      Fields f;
      if (!splitFields(all.substr(from, nl - from), f)) return damaged(from);
      each(from, f);
      from = nl + 1;
    }
    return okStatus();
  };
  const size_t headerNewline = all.find('\n');
  if (headerNewline == std::string_view::npos) return okStatus();  // a header torn before its first record
  const size_t headerEnd = headerNewline + 1;
  // Compaction writes each id once, so only the lines appended since can repeat an id: index
  // just those (a small map) instead of every line of a large journal.
  size_t compactedEnd = std::clamp<size_t>(compactedSize(all), headerEnd, all.size());
  if (all[compactedEnd - 1] != '\n') compactedEnd = headerEnd;  // not a line boundary: trust no prefix
  std::unordered_map<std::string_view, size_t> latestAppended;
  RETURN_IF_ERROR(
      forEachLine(compactedEnd, all.size(), [&](size_t at, const Fields& f) { latestAppended[f.id] = at; }));
  AgentRecord record;
  Status parsed = okStatus();
  const auto emit = [&](const Fields& f) {
    if (!parsed.ok()) return;
    if (!parseRecord(f, record)) {
      parsed = failedPrecondition("agent journal " + path.string() + " has a damaged record for " + std::string(f.id));
      return;
    }
    fn(record);
  };
  RETURN_IF_ERROR(forEachLine(headerEnd, compactedEnd, [&](size_t, const Fields& f) {
    if (!latestAppended.contains(f.id)) emit(f);
  }));
  RETURN_IF_ERROR(forEachLine(compactedEnd, all.size(), [&](size_t at, const Fields& f) {
    if (latestAppended[f.id] == at) emit(f);
  }));
  return parsed;
}

}  // namespace

Status AgentJournal::visit(const std::function<void(const AgentRecord&)>& fn) const {
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path_));
  if (!text) return okStatus();
  return visitText(path_, *text, fn);
}

StatusOr<bool> AgentJournal::append(const std::vector<AgentRecord>& agents) const {
  std::string batch;
  for (const AgentRecord& a : agents) RETURN_IF_ERROR(appendLine(batch, a));
  RETURN_IF_ERROR(ensureDirectory(path_.parent_path(), kPrivateDirMode));
  const UniqueFd journal(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kPrivateFileMode));
  const int fd = journal.get();
  if (fd < 0) return posixError(path_, "cannot open");
  ASSIGN_OR_RETURN(off_t size, cutTornTail(fd, path_));
  char head[64] = {};
  ssize_t headBytes = size > 0 ? pread(fd, head, sizeof head - 1, 0) : 0;
  if (headBytes < 0) return posixError(path_, "cannot read");
  if (size == 0) batch.insert(0, header(0));
  for (size_t done = 0; done < batch.size();) {
    ssize_t n = pwrite(fd, batch.data() + done, batch.size() - done, size + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return posixError(path_, "cannot append to");
    }
    done += static_cast<size_t>(n);
  }
  if (fdatasync(fd) != 0) return posixError(path_, "cannot sync");
  if (size == 0) RETURN_IF_ERROR(syncDirectory(path_.parent_path()));
  const uint64_t newSize = static_cast<uint64_t>(size) + batch.size();
  return newSize > 2 * compactedSize(std::string_view(head, static_cast<size_t>(headBytes))) + kMinCompactionGrowth;
}

StatusOr<std::optional<AgentJournal::Compaction>> AgentJournal::prepareCompaction() const {
  UniqueFd in(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    if (errno == ENOENT) return std::optional<Compaction>();
    return posixError(path_, "cannot open");
  }
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return posixError(path_, "cannot stat");
  ASSIGN_OR_RETURN(std::string text, readFileFrom(in, 0, path_));
  // Up to the last complete line: an append may be under way (finishCompaction copies the rest).
  text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  std::string body;
  Status lineStatus = okStatus();
  RETURN_IF_ERROR(visitText(path_, text, [&](const AgentRecord& a) {
    if (lineStatus.ok()) lineStatus = appendLine(body, a);
  }));
  RETURN_IF_ERROR(lineStatus);
  // The header records the size it is part of, so count its own digits in.
  std::string head = header(body.size());
  head = header(body.size() + head.size());
  head = header(body.size() + head.size());
  ASSIGN_OR_RETURN(StagedFile file, StagedFile::create(path_, kPrivateFileMode));
  RETURN_IF_ERROR(file.append(head));
  RETURN_IF_ERROR(file.append(body));
  return std::optional<Compaction>(Compaction{std::move(file), std::move(in), st.st_dev, st.st_ino, text.size()});
}

Status AgentJournal::finishCompaction(Compaction compaction) const {
  UniqueFd in(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) {
    if (errno == ENOENT) return okStatus();  // removed with its rotation
    return posixError(path_, "cannot open");
  }
  struct stat st {};
  if (fstat(in.get(), &st) != 0) return posixError(path_, "cannot stat");
  if (st.st_dev != compaction.device || st.st_ino != compaction.inode ||
      static_cast<uint64_t>(st.st_size) < compaction.compactedUpTo) {
    return okStatus();  // another file now: what this compaction read is not its prefix
  }
  ASSIGN_OR_RETURN(std::string appended, readFileFrom(in, static_cast<off_t>(compaction.compactedUpTo), path_));
  RETURN_IF_ERROR(compaction.file.append(appended));
  return compaction.file.commit();
}

Status AgentJournal::compact() const {
  ASSIGN_OR_RETURN(std::optional<Compaction> compaction, prepareCompaction());
  return compaction ? finishCompaction(std::move(*compaction)) : okStatus();
}

}  // namespace rotor::store::local
