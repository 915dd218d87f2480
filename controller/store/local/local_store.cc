#include "controller/store/local/local_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"
#include "controller/pki/pkcs12.h"
#include "controller/store/local/agent_journal.h"
#include "controller/store/local/process.h"

namespace rotor::store::local {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Status checkKey(const ObjectKey& key) {
  if (!api::isDns1123Label(key.ns) || !api::isDns1123Subdomain(key.name)) {
    return invalidArgument("invalid rotation name " + quoteForMessage(key.toString()));
  }
  return okStatus();
}

StatusOr<json> parseJsonFile(const fs::path& path, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return failedPrecondition("state file " + path.string() + " is damaged: " + e.what());
  }
}

StatusOr<std::optional<json>> readJsonFile(const fs::path& path) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
  if (!text) {
    return std::optional<json>();
  }
  ASSIGN_OR_RETURN(json value, parseJsonFile(path, *text));
  return std::optional<json>(std::move(value));
}

Status writeJsonFile(const fs::path& path, const json& value, mode_t mode) {
  RETURN_IF_ERROR(ensureDirectory(path.parent_path(), kPrivateDirMode));
  return writeFileAtomic(path, api::dumpJson(value, 2) + "\n", mode);
}

std::string randomUid() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string out = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : out) {
    if (c == 'x' || c == 'y') {
      int v = hex(rd);
      if (c == 'y') v = (v & 0x3) | 0x8;
      c = "0123456789abcdef"[v];
    }
  }
  return out;
}

Version contentVersion(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  return pki::sha256Hex(std::string(a) + '\0' + std::string(b) + '\0' + std::string(c));
}

json authorityJson(const std::optional<AuthorityMaterial>& m) {
  if (!m) return nullptr;
  return {{"certificate", m->certificatePem}, {"key", m->keyPem}};
}

std::optional<AuthorityMaterial> authorityFromJson(const json& j) {
  if (!j.is_object()) return std::nullopt;
  return AuthorityMaterial{j.value("certificate", ""), j.value("key", "")};
}

json servedJson(const ServedMaterial& m) {
  return {{"certificateChain", m.certificateChainPem}, {"key", m.keyPem}, {"ca", m.caPem}};
}

ServedMaterial servedFromJson(const json& j) {
  return {j.value("certificateChain", ""), j.value("key", ""), j.value("ca", "")};
}

StatusOr<std::string> readPassword(const fs::path& path) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
  if (!text) {
    return failedPrecondition("password file " + path.string() + " does not exist");
  }
  std::string password(trim(*text));
  return password;
}

std::string_view asBytes(const std::vector<uint8_t>& der) {
  return std::string_view(reinterpret_cast<const char*>(der.data()), der.size());
}

/** The directory a backup of `file` goes to: "DIR-STAMP" beside the file's directory DIR. */
fs::path backupDirectoryFor(const fs::path& file, const fs::path& root, const std::string& stamp) {
  fs::path dir = file.parent_path();
  if (fs::weakly_canonical(dir) == fs::weakly_canonical(root)) {
    return root / ("backup-" + stamp);
  }
  return dir.parent_path() / (dir.filename().string() + "-" + stamp);
}

}  // namespace

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
  const fs::path path = stateDirectory() / "sequence";
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
  int64_t last = 0;
  if (text) {
    try {
      last = std::stoll(*text);
    } catch (const std::exception&) {
      return failedPrecondition("state file " + path.string() + " is damaged");
    }
  }
  std::string next = std::to_string(last + 1);
  RETURN_IF_ERROR(writeFileAtomic(path, next + "\n", kPrivateFileMode));
  return next;
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

// ---- CA material ----

StatusOr<Versioned<Authorities>> LocalStore::readAuthorities(const CertificateRotation& r) {
  RETURN_IF_ERROR(checkKey(r.key()));
  const fs::path path = objectPath("authorities", r.key(), ".json");
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(path));
  Versioned<Authorities> out;
  if (!text) {
    return out;
  }
  ASSIGN_OR_RETURN(json j, parseJsonFile(path, *text));
  out.value.current = authorityFromJson(j.value("current", json()));
  out.value.next = authorityFromJson(j.value("next", json()));
  out.value.previous = authorityFromJson(j.value("previous", json()));
  out.version = contentVersion(*text);
  return out;
}

Status LocalStore::writeAuthorities(const CertificateRotation& r, const Authorities& a, const Version& expected) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(Versioned<Authorities> current, readAuthorities(r));
  if (current.version != expected) {
    return conflict("CA material of " + r.key().toString() + " was modified");
  }
  json j = {
      {"current", authorityJson(a.current)}, {"next", authorityJson(a.next)}, {"previous", authorityJson(a.previous)}};
  return writeJsonFile(objectPath("authorities", r.key(), ".json"), j, kPrivateFileMode);
}

StatusOr<AuthorityMaterial> LocalStore::readCustomAuthority(const CertificateRotation& r) {
  RETURN_IF_ERROR(checkKey(r.key()));
  if (!r.spec.ca.files) {
    return failedPrecondition("CertificateRotation " + r.key().toString() +
                              " names no CA files (spec.ca.files) for local mode");
  }
  AuthorityMaterial out;
  for (auto [file, into] : {std::pair{&r.spec.ca.files->certFile, &out.certificatePem},
                            std::pair{&r.spec.ca.files->keyFile, &out.keyPem}}) {
    ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(resolve(*file)));
    if (!text) {
      return notFound("CA file " + resolve(*file).string() + " does not exist");
    }
    *into = std::move(*text);
  }
  RETURN_IF_ERROR(checkCaKeyPrivate(resolve(r.spec.ca.files->keyFile)));
  return out;
}

Status LocalStore::checkCaKeyPrivate(const fs::path& keyPath) const {
  struct stat st {};
  if (options_.allowWorldReadableCaKey || ::stat(keyPath.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) {
    return okStatus();
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return permissionDenied("CA key file " + keyPath.string() + " is readable by every user (mode " + mode +
                          "); run chmod 600 on it, or start rotor with --allow-world-readable-ca-key");
}

// ---- served material ----

StatusOr<const api::ServerSpec*> LocalStore::serverOf(const CertificateRotation& r, std::string_view server) {
  RETURN_IF_ERROR(checkKey(r.key()));
  const api::ServerSpec* spec = findServer(r, server);
  if (spec == nullptr) {
    return notFound("CertificateRotation " + r.key().toString() + " has no server \"" + std::string(server) + "\"");
  }
  if (spec->certFile.empty() || spec->keyFile.empty()) {
    return failedPrecondition("server \"" + spec->name + "\" has no certFile/keyFile for local mode");
  }
  return spec;
}

StatusOr<Versioned<std::optional<ServedMaterial>>> LocalStore::readServedFiles(const CertificateRotation& r,
                                                                               const api::ServerSpec& server) {
  ASSIGN_OR_RETURN(std::optional<std::string> chain, readFileIfExists(resolve(server.certFile)));
  ASSIGN_OR_RETURN(std::optional<std::string> key, readFileIfExists(resolve(server.keyFile)));
  ASSIGN_OR_RETURN(std::optional<std::string> ca,
                   readFileIfExists(objectPath("served", r.key(), "") / (server.name + ".ca.pem")));
  Versioned<std::optional<ServedMaterial>> out;
  if (!chain && !key) {
    return out;
  }
  ServedMaterial m{chain.value_or(""), key.value_or(""), ca.value_or("")};
  out.version = contentVersion(m.certificateChainPem, m.keyPem, m.caPem);
  out.value = std::move(m);
  return out;
}

Status LocalStore::writeServedFiles(const CertificateRotation& r, const api::ServerSpec& server,
                                    const ServedMaterial& m) {
  const fs::path keyPath = resolve(server.keyFile);
  const fs::path certPath = resolve(server.certFile);
  RETURN_IF_ERROR(ensureDirectory(keyPath.parent_path(), kPrivateDirMode));
  RETURN_IF_ERROR(ensureDirectory(certPath.parent_path(), kPrivateDirMode));
  RETURN_IF_ERROR(writeFileAtomic(keyPath, m.keyPem, kPrivateFileMode));
  RETURN_IF_ERROR(writeFileAtomic(certPath, m.certificateChainPem, kPublicFileMode));
  if (!server.chainFile.empty() || server.pkcs12) {
    ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs, pki::parsePemBundle(m.certificateChainPem));
    std::span<const pki::Certificate> intermediates(certs);
    if (!intermediates.empty()) {
      intermediates = intermediates.subspan(1);
    }
    if (!server.chainFile.empty()) {
      RETURN_IF_ERROR(writeFileAtomic(resolve(server.chainFile), pki::writePemBundle(intermediates), kPublicFileMode));
    }
    if (server.pkcs12) {
      if (certs.empty()) {
        return invalidArgument("served material for \"" + server.name + "\" has no certificate");
      }
      ASSIGN_OR_RETURN(std::string password, readPassword(resolve(server.pkcs12->passwordFile)));
      ASSIGN_OR_RETURN(pki::PrivateKey key, pki::PrivateKey::fromPem(m.keyPem));
      ASSIGN_OR_RETURN(std::vector<uint8_t> der,
                       pki::exportKeystore(key, certs.front(), intermediates, password, server.name));
      RETURN_IF_ERROR(writeFileAtomic(resolve(server.pkcs12->file), asBytes(der), kPrivateFileMode));
    }
  }
  const fs::path caPath = objectPath("served", r.key(), "") / (server.name + ".ca.pem");
  RETURN_IF_ERROR(ensureDirectory(caPath.parent_path(), kPrivateDirMode));
  return writeFileAtomic(caPath, m.caPem, kPublicFileMode);
}

Status LocalStore::rollForwardJournal(const CertificateRotation& r, const api::ServerSpec& server) {
  const fs::path journal = objectPath("journal", r.key(), "") / (server.name + ".json");
  ASSIGN_OR_RETURN(std::optional<json> pending, readJsonFile(journal));
  if (!pending) {
    return okStatus();
  }
  RETURN_IF_ERROR(writeServedFiles(r, server, servedFromJson(*pending)));
  return removeFile(journal);
}

StatusOr<Versioned<std::optional<ServedMaterial>>> LocalStore::readServed(const CertificateRotation& r,
                                                                          std::string_view server) {
  ASSIGN_OR_RETURN(const api::ServerSpec* spec, serverOf(r, server));
  const fs::path journal = objectPath("journal", r.key(), "") / (spec->name + ".json");
  std::error_code ec;
  if (fs::exists(journal, ec)) {
    ASSIGN_OR_RETURN(FileLock lock, lockWrites());
    RETURN_IF_ERROR(rollForwardJournal(r, *spec));
  }
  return readServedFiles(r, *spec);
}

Status LocalStore::writeServed(const CertificateRotation& r, std::string_view server, const ServedMaterial& m,
                               const Version& expected) {
  ASSIGN_OR_RETURN(const api::ServerSpec* spec, serverOf(r, server));
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  RETURN_IF_ERROR(rollForwardJournal(r, *spec));
  ASSIGN_OR_RETURN(auto current, readServedFiles(r, *spec));
  if (current.version != expected) {
    return conflict("served material of server \"" + spec->name + "\" in " + r.key().toString() + " was modified");
  }
  // Journal first: a crash between the key and the certificate is finished by the next read.
  const fs::path journal = objectPath("journal", r.key(), "") / (spec->name + ".json");
  RETURN_IF_ERROR(writeJsonFile(journal, servedJson(m), kPrivateFileMode));
  return rollForwardJournal(r, *spec);
}

// ---- trust bundle ----

StatusOr<Versioned<std::optional<std::string>>> LocalStore::readBundle(const CertificateRotation& r) {
  RETURN_IF_ERROR(checkKey(r.key()));
  if (r.spec.trustBundle.file.empty()) {
    return failedPrecondition("CertificateRotation " + r.key().toString() + " has no spec.trustBundle.file");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> text, readFileIfExists(resolve(r.spec.trustBundle.file)));
  Versioned<std::optional<std::string>> out;
  if (text) {
    out.version = contentVersion(*text);
    out.value = std::move(text);
  }
  return out;
}

Status LocalStore::writeTruststore(const CertificateRotation& r, const std::string& bundlePem) {
  const auto& p12 = r.spec.trustBundle.pkcs12;
  ASSIGN_OR_RETURN(std::string password, readPassword(resolve(p12->passwordFile)));
  ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs, pki::parsePemBundle(bundlePem));
  ASSIGN_OR_RETURN(std::vector<uint8_t> der, pki::exportTruststore(certs, password));
  return writeFileAtomic(resolve(p12->file), asBytes(der), kPublicFileMode);
}

Status LocalStore::writeBundle(const CertificateRotation& r, const std::string& bundlePem, const Version& expected) {
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  ASSIGN_OR_RETURN(auto current, readBundle(r));
  if (current.version != expected) {
    return conflict("trust bundle of " + r.key().toString() + " was modified");
  }
  const fs::path path = resolve(r.spec.trustBundle.file);
  RETURN_IF_ERROR(ensureDirectory(path.parent_path(), kPrivateDirMode));
  // The truststore first: the PEM file is the version, so a crash between the two is redone.
  if (r.spec.trustBundle.pkcs12) {
    RETURN_IF_ERROR(writeTruststore(r, bundlePem));
  }
  return writeFileAtomic(path, bundlePem, kPublicFileMode);
}

// ---- snapshots ----

Status LocalStore::putSnapshot(const CertificateRotation& r, const Snapshot& snapshot) {
  RETURN_IF_ERROR(checkKey(r.key()));
  if (!api::isDns1123Subdomain(snapshot.name)) {
    return invalidArgument("invalid snapshot name " + quoteForMessage(snapshot.name));
  }
  {
    auto existing = getSnapshot(r, snapshot.name);
    if (existing.ok()) {
      if (*existing == snapshot) {
        return okStatus();
      }
      return alreadyExists("snapshot \"" + snapshot.name + "\" already exists with other content");
    }
    if (existing.status().code() != Code::kNotFound) {
      return existing.status();
    }
  }
  ASSIGN_OR_RETURN(FileLock lock, lockWrites());
  const std::string stamp = formatCompactUtc(snapshot.takenAt);
  json files = json::array();
  auto backup = [&](const fs::path& original, const std::string& content, mode_t mode, const json& role) -> Status {
    fs::path dir = backupDirectoryFor(original, options_.root, stamp);
    // Another snapshot taken in the same second owns that name: take the next free suffix.
    for (int n = 2;; ++n) {
      ASSIGN_OR_RETURN(std::optional<std::string> owner, readFileIfExists(dir / ".rotor-snapshot"));
      if (!owner || trim(*owner) == snapshot.name) {
        break;
      }
      dir = backupDirectoryFor(original, options_.root, stamp + "." + std::to_string(n));
    }
    RETURN_IF_ERROR(ensureDirectory(dir, kPrivateDirMode));
    RETURN_IF_ERROR(writeFileAtomic(dir / ".rotor-snapshot", snapshot.name + "\n", kPrivateFileMode));
    fs::path copy = dir / original.filename();
    RETURN_IF_ERROR(writeFileAtomic(copy, content, mode));
    json entry = role;
    entry["path"] = copy.string();
    entry["sha256"] = pki::sha256Hex(content);
    files.push_back(entry);
    return okStatus();
  };
  json servers = json::object();
  for (const auto& [name, material] : snapshot.servers) {
    const api::ServerSpec* spec = findServer(r, name);
    if (spec == nullptr || spec->certFile.empty() || spec->keyFile.empty()) {
      return invalidArgument("snapshot names server \"" + name + "\" that has no local files");
    }
    RETURN_IF_ERROR(backup(resolve(spec->certFile), material.certificateChainPem, kPublicFileMode,
                           {{"server", name}, {"role", "certificateChain"}}));
    RETURN_IF_ERROR(
        backup(resolve(spec->keyFile), material.keyPem, kPrivateFileMode, {{"server", name}, {"role", "key"}}));
    servers[name] = {{"ca", material.caPem}};
  }
  if (!snapshot.bundlePem.empty()) {
    RETURN_IF_ERROR(
        backup(resolve(r.spec.trustBundle.file), snapshot.bundlePem, kPublicFileMode, {{"role", "bundle"}}));
  }
  json index = {{"name", snapshot.name},
                {"takenAt", formatRfc3339(snapshot.takenAt)},
                {"revision", snapshot.revision},
                {"reason", snapshot.reason},
                {"servers", servers},
                {"files", files}};
  // The index is written last: a snapshot exists only once every copy is on disk.
  return writeJsonFile(objectPath("snapshots", r.key(), "") / (snapshot.name + ".json"), index, kPrivateFileMode);
}

StatusOr<Snapshot> LocalStore::getSnapshot(const CertificateRotation& r, std::string_view name) {
  RETURN_IF_ERROR(checkKey(r.key()));
  if (!api::isDns1123Subdomain(name)) {
    return invalidArgument("invalid snapshot name " + quoteForMessage(name));
  }
  const fs::path indexPath = objectPath("snapshots", r.key(), "") / (std::string(name) + ".json");
  ASSIGN_OR_RETURN(std::optional<json> index, readJsonFile(indexPath));
  if (!index) {
    return notFound("snapshot \"" + std::string(name) + "\" of " + r.key().toString() + " not found");
  }
  Snapshot out;
  try {
    out.name = index->at("name").get<std::string>();
    if (!parseRfc3339(index->at("takenAt").get<std::string>(), out.takenAt)) {
      return failedPrecondition("snapshot index " + indexPath.string() + " has a bad takenAt");
    }
    out.revision = index->at("revision").get<int64_t>();
    out.reason = index->at("reason").get<std::string>();
    for (const auto& [server, info] : index->at("servers").items()) {
      out.servers[server].caPem = info.at("ca").get<std::string>();
    }
    for (const json& f : index->at("files")) {
      const fs::path path = f.at("path").get<std::string>();
      ASSIGN_OR_RETURN(std::optional<std::string> content, readFileIfExists(path));
      if (!content) {
        return failedPrecondition("snapshot \"" + out.name + "\" is damaged: " + path.string() + " is missing");
      }
      if (pki::sha256Hex(*content) != f.at("sha256").get<std::string>()) {
        return failedPrecondition("snapshot \"" + out.name + "\" is damaged: " + path.string() + " was modified");
      }
      const std::string role = f.at("role").get<std::string>();
      if (role == "bundle") {
        out.bundlePem = std::move(*content);
      } else if (role == "key") {
        out.servers[f.at("server").get<std::string>()].keyPem = std::move(*content);
      } else {
        out.servers[f.at("server").get<std::string>()].certificateChainPem = std::move(*content);
      }
    }
  } catch (const json::exception& e) {
    return failedPrecondition("snapshot index " + indexPath.string() + " is damaged: " + e.what());
  }
  return out;
}

StatusOr<std::vector<std::string>> LocalStore::listSnapshots(const CertificateRotation& r) {
  RETURN_IF_ERROR(checkKey(r.key()));
  const fs::path dir = objectPath("snapshots", r.key(), "");
  std::vector<std::pair<std::string, std::string>> byTime;  // (takenAt, name)
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return std::vector<std::string>();
  }
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<json> index, readJsonFile(entry.path()));
    if (index) {  // gone since the directory was read: a concurrent delete
      byTime.emplace_back(index->value("takenAt", ""), entry.path().stem().string());
    }
  }
  std::sort(byTime.begin(), byTime.end());
  std::vector<std::string> out;
  for (auto& [when, name] : byTime) {
    out.push_back(std::move(name));
  }
  return out;
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
  return AgentJournal(objectPath("agents", key, ".agents")).append(agents);
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
