// The local store's files on the servers' side: CA material, served certificates and keys (with
// their write journal), the trust bundle and its PKCS#12 truststore.
#include "controller/store/local/local_store.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "controller/common/atomic_file.h"
#include "controller/pki/bundle.h"
#include "controller/pki/pkcs12.h"
#include "controller/store/local/local_files.h"

namespace rotor::store::local {
namespace fs = std::filesystem;
using nlohmann::json;

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

}  // namespace rotor::store::local
