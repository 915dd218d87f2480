// The local store: opening and locking the state directory, rotations, reloads, agents and tokens.
// CA, served and bundle files are in local_material.cc, snapshots in local_snapshots.cc.
#include "controller/store/local/local_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "controller/api/json_codec.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/pki/bundle.h"
#include "controller/pki/pkcs12.h"
#include "controller/store/local/agent_journal.h"
#include "controller/store/local/local_files.h"
#include "controller/store/local/process.h"

namespace rotor::store::local {
namespace fs = std::filesystem;
using nlohmann::json;

StatusOr<std::unique_ptr<LocalStore>> LocalStore::open(const LocalStoreOptions& options, const Clock& clock) {
  std::error_code ec;
  if (options.root.empty()) {
    return invalidArgument("no state directory given (use --local DIR or ROTOR_LOCAL_DIR)");
  }
  if (!fs::exists(options.root, ec)) {
    // Not made here: a mistyped --local would otherwise start an empty state that hides the real one.
    return notFound("state directory " + options.root.string() + " does not exist (create it first: mkdir -m 0700 " +
                    options.root.string() + ")");
  }
  if (!fs::is_directory(options.root, ec)) {
    return failedPrecondition("state directory " + options.root.string() + " is not a directory");
  }
  LocalStoreOptions resolved = options;
  resolved.root = fs::absolute(options.root, ec);
  std::unique_ptr<LocalStore> store(new LocalStore(resolved, clock));
  Status made = ensureDirectory(store->stateDirectory(), kPrivateDirMode);
  if (!made.ok()) {
    return Status(made.code(), "state directory " + resolved.root.string() + " is not usable: " + made.message());
  }
  ::chmod(store->stateDirectory().c_str(), kPrivateDirMode);
  if (::access(store->stateDirectory().c_str(), W_OK | X_OK) != 0) {
    return permissionDenied("state directory " + store->stateDirectory().string() + " is not writable");
  }
  return store;
}

StatusOr<ProcessLock> LocalStore::lockForController() {
  return ProcessLock::tryAcquire(stateDirectory() / "controller.lock", "rotor controller");
}

StatusOr<size_t> LocalStore::removeAbandonedTemporaries() {
  ASSIGN_OR_RETURN(std::vector<CertificateRotation> rotations, listRotations(kAllNamespaces));
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  std::set<fs::path> outside;  // directories of named files that the walk below does not reach
  for (const CertificateRotation& r : rotations) {
    std::vector<std::string> files = {r.spec.trustBundle.file};
    if (r.spec.trustBundle.pkcs12) files.push_back(r.spec.trustBundle.pkcs12->file);
    for (const api::ServerSpec& s : r.spec.servers) {
      files.insert(files.end(), {s.certFile, s.keyFile, s.chainFile});
      if (s.pkcs12) files.push_back(s.pkcs12->file);
    }
    for (const std::string& f : files) {
      const fs::path dir = resolve(f).parent_path();
      if (!f.empty() && fs::relative(dir, options_.root).native().starts_with("..")) outside.insert(dir);
    }
  }
  size_t removed = 0;
  const auto removeIfTemporary = [&](const fs::directory_entry& e) {
    std::error_code ec;
    if (e.is_regular_file(ec) && isAtomicWriteTemporary(e.path().filename().native()) && fs::remove(e.path(), ec)) {
      ++removed;
    }
  };
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(options_.root, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    removeIfTemporary(*it);
  }
  for (const fs::path& dir : outside) {
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      removeIfTemporary(*it);
    }
  }
  return removed;
}

fs::path LocalStore::resolve(const std::string& path) const {
  fs::path p(path);
  return p.is_absolute() ? p : options_.root / p;
}

fs::path LocalStore::objectPath(std::string_view kind, const ObjectKey& key, std::string_view suffix) const {
  return stateDirectory() / kind / key.ns / (key.name + std::string(suffix));
}

StatusOr<FileLock> LocalStore::lockWrites() { return FileLock::acquire(stateDirectory() / "write.lock"); }

StatusOr<std::string> LocalStore::nextResourceVersion() {
  std::lock_guard lock(versionMu_);
  if (nextVersion_ > reservedUpTo_) {
    const fs::path path = stateDirectory() / "sequence";
    ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
    int64_t reservedByAnyone = 0;
    if (text) {
      try {
        reservedByAnyone = std::stoll(*text);
      } catch (const std::exception&) {
        return failedPrecondition("state file " + path.string() + " is damaged");
      }
    }
    const int64_t upTo = reservedByAnyone + versionBlock_;
    RETURN_IF_ERROR(writeFileAtomic(path, std::to_string(upTo) + "\n", kPrivateFileMode));
    nextVersion_ = reservedByAnyone + 1;
    reservedUpTo_ = upTo;
    versionBlock_ = std::min(versionBlock_ * 2, kMaxVersionBlock);
  }
  return std::to_string(nextVersion_++);
}

StatusOr<std::optional<CertificateRotation>> LocalStore::loadRotation(const ObjectKey& key) {
  RETURN_IF_ERROR(checkKey(key));
  const fs::path path = objectPath("rotations", key, ".json");
  // Stat before reading: a file replaced in between is cached under its old identity, so the next
  // load reads it again; the other order could keep old content under the new identity.
  struct stat identity {};
  const bool exists = ::stat(path.c_str(), &identity) == 0;
  {
    std::lock_guard<std::mutex> lock(cacheMu_);
    if (auto it = decoded_.find(key); it != decoded_.end()) {
      if (exists && it->second.sameFile(identity)) return std::optional<CertificateRotation>(it->second.rotation);
      decoded_.erase(it);
    }
  }
  ASSIGN_OR_RETURN(std::optional<json> j, readJsonFile(path));
  if (!j) {
    return std::optional<CertificateRotation>();
  }
  auto r = api::decodeRotation(*j);
  if (!r.ok()) {
    return failedPrecondition("state file " + path.string() + " is damaged: " + r.status().message());
  }
  if (exists) {
    std::lock_guard<std::mutex> lock(cacheMu_);
    decoded_.insert_or_assign(key, DecodedRotation{identity.st_ino, identity.st_size, identity.st_mtim, *r});
  }
  return std::optional<CertificateRotation>(std::move(r).value());
}

Status LocalStore::storeRotation(const CertificateRotation& r) {
  return writeJsonFile(objectPath("rotations", r.key(), ".json"), api::encodeRotation(r), kPrivateFileMode);
}

StatusOr<std::vector<ObjectKey>> LocalStore::listRotationKeys() {
  std::vector<ObjectKey> keys;
  const fs::path dir = stateDirectory() / "rotations";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return keys;
  }
  for (const auto& nsEntry : fs::directory_iterator(dir, ec)) {
    for (const auto& entry : fs::directory_iterator(nsEntry.path(), ec)) {
      if (entry.path().extension() == ".json") {
        keys.push_back({nsEntry.path().filename().string(), entry.path().stem().string()});
      }
    }
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

StatusOr<std::vector<CertificateRotation>> LocalStore::listRotations(const std::string& ns) {
  ASSIGN_OR_RETURN(std::vector<ObjectKey> keys, listRotationKeys());
  std::vector<CertificateRotation> out;
  for (const ObjectKey& key : keys) {
    if (!ns.empty() && key.ns != ns) {
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<CertificateRotation> r, loadRotation(key));
    if (r) {
      out.push_back(std::move(*r));
    }
  }
  return out;
}

StatusOr<CertificateRotation> LocalStore::getRotation(const ObjectKey& key) {
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> r, loadRotation(key));
  if (!r) {
    return notFound("CertificateRotation " + key.toString() + " not found");
  }
  return std::move(*r);
}

StatusOr<CertificateRotation> LocalStore::applyRotation(const CertificateRotation& desired) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> existing, loadRotation(desired.key()));
  CertificateRotation stored;
  if (existing) {
    stored = *existing;
    const bool specChanged = mergeApplied(stored, desired);
    if (!specChanged && existing->metadata == stored.metadata) {
      return stored;  // nothing changed: keep the version, as an API server does
    }
    if (specChanged) {
      stored.metadata.generation++;
    }
  } else {
    stored.metadata = desired.metadata;
    stored.metadata.uid = randomUid();
    stored.metadata.generation = 1;
    stored.metadata.creationTimestamp = truncateToSeconds(clock_.now());
    stored.spec = desired.spec;
  }
  ASSIGN_OR_RETURN(stored.metadata.resourceVersion, nextResourceVersion());
  RETURN_IF_ERROR(storeRotation(stored));
  return stored;
}

Status LocalStore::writeRotation(CertificateRotation& rotation,
                                 const std::function<void(CertificateRotation& stored)>& change) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> stored, loadRotation(rotation.key()));
  if (!stored) {
    return notFound("CertificateRotation " + rotation.key().toString() + " not found");
  }
  if (stored->metadata.resourceVersion != rotation.metadata.resourceVersion) {
    return conflict("CertificateRotation " + rotation.key().toString() + " was modified (version " +
                    stored->metadata.resourceVersion + ", expected " + rotation.metadata.resourceVersion + ")");
  }
  change(*stored);
  ASSIGN_OR_RETURN(stored->metadata.resourceVersion, nextResourceVersion());
  RETURN_IF_ERROR(storeRotation(*stored));
  rotation.metadata = stored->metadata;
  return okStatus();
}

Status LocalStore::updateRotation(CertificateRotation& rotation) {
  return writeRotation(rotation, [&](CertificateRotation& stored) {
    if (!(stored.spec == rotation.spec)) {
      stored.metadata.generation++;
    }
    stored.spec = rotation.spec;
    stored.metadata.labels = rotation.metadata.labels;
    stored.metadata.annotations = rotation.metadata.annotations;
    rotation.status = stored.status;
  });
}

Status LocalStore::updateRotationStatus(CertificateRotation& rotation) {
  return writeRotation(rotation, [&](CertificateRotation& stored) { stored.status = rotation.status; });
}

Status LocalStore::deleteRotation(const ObjectKey& key) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> stored, loadRotation(key));
  if (!stored) {
    return notFound("CertificateRotation " + key.toString() + " not found");
  }
  RETURN_IF_ERROR(removeFile(objectPath("rotations", key, ".json")));
  RETURN_IF_ERROR(removeFile(objectPath("authorities", key, ".json")));
  RETURN_IF_ERROR(removeFile(objectPath("agents", key, ".agents")));
  RETURN_IF_ERROR(removeFile(objectPath("tokens", key, "")));
  std::error_code ec;
  for (const char* kind : {"snapshots", "journal", "served"}) {
    fs::remove_all(stateDirectory() / kind / key.ns / key.name, ec);
  }
  return okStatus();
}

// ---- reload ----

Status LocalStore::reload(const CertificateRotation& r, std::string_view server) {
  ASSIGN_OR_RETURN(const api::ServerSpec* spec, serverOf(r, server));
  if (spec->reloadCommand.empty()) {
    return okStatus();
  }
  return runCommand(spec->reloadCommand, options_.root, options_.reloadTimeout)
      .withContext("reload of server \"" + spec->name + "\" failed");
}

// ---- agents ----

Status LocalStore::visitAgents(const ObjectKey& key, const std::function<void(const AgentRecord&)>& visit) {
  RETURN_IF_ERROR(checkKey(key));
  return AgentJournal(objectPath("agents", key, ".agents")).visit(visit);
}

Status LocalStore::putAgents(const ObjectKey& key, const std::vector<AgentRecord>& agents) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> rotation, loadRotation(key));
  if (!rotation) {
    return notFound("CertificateRotation " + key.toString() + " not found");
  }
  ASSIGN_OR_RETURN(const bool compactionDue, AgentJournal(objectPath("agents", key, ".agents")).append(agents));
  if (compactionDue) compactor_.request(key);
  return okStatus();
}

void LocalStore::compactAgents(const ObjectKey& key) {
  // A compaction that fails leaves the journal as it was, valid and longer: the next append
  // that finds it due asks again.
  const AgentJournal journal(objectPath("agents", key, ".agents"));
  StatusOr<std::optional<AgentJournal::Compaction>> compaction = journal.prepareCompaction();
  if (!compaction.ok() || !*compaction) return;
  StatusOr<FileLock> lock = lockWrites();
  if (!lock.ok()) return;
  StatusOr<std::optional<CertificateRotation>> rotation = loadRotation(key);
  if (!rotation.ok() || !*rotation) return;  // deleted meanwhile, and its journal with it
  (void)journal.finishCompaction(std::move(**compaction));
}

// ---- agent tokens ----

StatusOr<std::vector<std::string>> LocalStore::readAgentTokenDigests(const ObjectKey& key) {
  RETURN_IF_ERROR(checkKey(key));
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(objectPath("tokens", key, "")));
  std::vector<std::string> out;
  for (const std::string& line : split(text.value_or(""), '\n')) {
    if (!trim(line).empty()) out.emplace_back(trim(line));
  }
  return out;
}

Status LocalStore::addAgentTokenDigest(const ObjectKey& key, const std::string& digestHex) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(std::optional<CertificateRotation> rotation, loadRotation(key));
  if (!rotation) {
    return notFound("CertificateRotation " + key.toString() + " not found");
  }
  const fs::path path = objectPath("tokens", key, "");
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
  RETURN_IF_ERROR(ensureDirectory(path.parent_path(), kPrivateDirMode));
  return writeFileAtomic(path, text.value_or("") + digestHex + "\n", kPrivateFileMode);
}

}  // namespace rotor::store::local
