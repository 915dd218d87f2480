// The local store's snapshots: backup directories beside the served files and their manifests.
#include "controller/store/local/local_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "controller/api/validate.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/pki/bundle.h"
#include "controller/pki/digest.h"
#include "controller/store/local/local_files.h"

namespace rotor::store::local {
namespace fs = std::filesystem;
using nlohmann::json;

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
  json files = json::array();
  auto backup = [&](const fs::path& original, const std::string& content, mode_t mode, const json& role) -> Status {
    fs::path dir;
    // Another snapshot taken in the same second owns that name: take the next free suffix.
    for (int n = 1;; ++n) {
      dir = backupDirectoryFor(original, options_.root, snapshot.takenAt, r.spec.backup.directory, n);
      ASSIGN_OR_RETURN(std::optional<std::string> owner, readFileIfExists(dir / ".rotor-snapshot"));
      if (!owner || trim(*owner) == snapshot.name) {
        break;
      }
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

}  // namespace rotor::store::local
