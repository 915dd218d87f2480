#include "controller/store/local/local_files.h"

#include <random>

#include "controller/api/json_codec.h"
#include "controller/api/validate.h"
#include "controller/common/atomic_file.h"
#include "controller/common/strings.h"
#include "controller/pki/digest.h"

namespace rotor::store::local {
namespace fs = std::filesystem;
using nlohmann::json;

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

Version contentVersion(std::string_view a, std::string_view b, std::string_view c) {
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

fs::path backupDirectoryFor(const fs::path& file, const fs::path& root, SystemTime takenAt, const std::string& layout,
                            int collision) {
  const fs::path dir = file.parent_path();
  const std::string stamp = formatCompactUtc(takenAt);  // YYYYMMDD-HHMMSS
  const std::string suffix = collision > 1 ? "." + std::to_string(collision) : "";
  if (layout.empty()) {
    if (fs::weakly_canonical(dir) == fs::weakly_canonical(root)) {
      return root / ("backup-" + stamp + suffix);
    }
    return dir.parent_path() / (dir.filename().string() + "-" + stamp + suffix);
  }
  std::string expanded = layout;
  const auto substitute = [&](const std::string& token, const std::string& value) {
    for (size_t at = expanded.find(token); at != std::string::npos; at = expanded.find(token, at + value.size())) {
      expanded.replace(at, token.size(), value);
    }
  };
  substitute("{date}", stamp.substr(0, 8));
  substitute("{time}", stamp.substr(9, 6));
  substitute("{dirname}", fs::weakly_canonical(dir).filename().string());
  return (dir / expanded).lexically_normal().string() + suffix;
}

}  // namespace rotor::store::local
