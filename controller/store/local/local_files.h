#pragma once

// What the local store's parts (local_store.cc, local_material.cc, local_snapshots.cc) share:
// checked names, JSON state files, content versions and the JSON forms of stored material.
// Internal to store/local.

#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::store::local {

/** kInvalidArgument unless the namespace is a DNS label and the name a DNS subdomain. */
Status checkKey(const ObjectKey& key);

/** A state file's JSON; kFailedPrecondition naming the file when it is damaged. */
StatusOr<nlohmann::json> parseJsonFile(const std::filesystem::path& path, const std::string& text);
/** As parseJsonFile; nullopt when the file does not exist. */
StatusOr<std::optional<nlohmann::json>> readJsonFile(const std::filesystem::path& path);
/** Writes `value` atomically (its directory created 0700 when missing). */
Status writeJsonFile(const std::filesystem::path& path, const nlohmann::json& value, mode_t mode);

/** A random RFC 4122 version 4 UUID, as the API server gives every object. */
std::string randomUid();
/** A version that changes exactly when one of the contents does. */
Version contentVersion(std::string_view a, std::string_view b = {}, std::string_view c = {});

nlohmann::json authorityJson(const std::optional<AuthorityMaterial>& m);
std::optional<AuthorityMaterial> authorityFromJson(const nlohmann::json& j);
nlohmann::json servedJson(const ServedMaterial& m);
ServedMaterial servedFromJson(const nlohmann::json& j);

/** A password file's content without surrounding white space; kFailedPrecondition when absent. */
StatusOr<std::string> readPassword(const std::filesystem::path& path);
std::string_view asBytes(const std::vector<uint8_t>& der);
/**
 * The directory a backup of `file` taken at `takenAt` goes to: `layout` (spec.backup.directory)
 * expanded relative to the file's directory DIR; empty: "DIR-YYYYMMDD-HHMMSS" beside DIR
 * ("backup-..." for a file directly in the state directory `root`). `collision` > 1 (another
 * snapshot owns that name) appends ".N".
 */
std::filesystem::path backupDirectoryFor(const std::filesystem::path& file, const std::filesystem::path& root,
                                         SystemTime takenAt, const std::string& layout, int collision);

}  // namespace rotor::store::local
