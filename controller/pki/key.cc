#include "controller/pki/key.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <vector>

#include "controller/common/strings.h"
#include "controller/pki/openssl_error.h"

namespace rotor::pki {
namespace {

EvpPkeyPtr upRef(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return EvpPkeyPtr(key);
}

}  // namespace

PrivateKey::PrivateKey(const PrivateKey& other) : key_(upRef(other.key_.get())) {}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
  if (this != &other) {
    key_ = upRef(other.key_.get());
  }
  return *this;
}

StatusOr<PrivateKey> PrivateKey::generate(const KeySpec& spec) {
  RETURN_IF_ERROR(validateKeySpec(spec));
  EVP_PKEY* raw = nullptr;
  switch (spec.algorithm) {
    case KeyAlgorithm::kEcdsa:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", spec.size == 384 ? "P-384" : "P-256");
      break;
    case KeyAlgorithm::kRsa:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(spec.size));
      break;
    case KeyAlgorithm::kEd25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (raw == nullptr) {
    return opensslError(Code::kInternal, "could not generate key");
  }
  return PrivateKey(EvpPkeyPtr(raw));
}

StatusOr<PrivateKey> PrivateKey::fromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // An empty passphrase callback: an encrypted key fails instead of prompting on a terminal.
  pem_password_cb* noPrompt = [](char*, int, int, void*) { return 0; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPrompt, nullptr));
  if (!key) {
    return opensslError(Code::kInvalidArgument, "invalid PEM private key");
  }
  PrivateKey out(std::move(key));
  RETURN_IF_ERROR(validateKeySpec(out.spec()).withContext("unsupported private key"));
  return out;
}

std::string PrivateKey::toPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PKCS8PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

KeySpec PrivateKey::spec() const {
  switch (EVP_PKEY_get_base_id(key_.get())) {
    case EVP_PKEY_RSA:
      return {KeyAlgorithm::kRsa, EVP_PKEY_get_bits(key_.get())};
    case EVP_PKEY_EC: {
      // Only the NIST curves rotor generates: a 256-bit secp256k1 key is not P-256.
      char group[64] = {};
      size_t len = 0;
      EVP_PKEY_get_utf8_string_param(key_.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len);
      std::string_view name(group, len);
      if (name == "prime256v1" || name == "P-256") return {KeyAlgorithm::kEcdsa, 256};
      if (name == "secp384r1" || name == "P-384") return {KeyAlgorithm::kEcdsa, 384};
      return {KeyAlgorithm::kEcdsa, -1};  // rejected by validateKeySpec
    }
    case EVP_PKEY_ED25519:
      return {KeyAlgorithm::kEd25519, 0};
    default:
      return {KeyAlgorithm::kEcdsa, -1};  // rejected by validateKeySpec
  }
}

Fingerprint PrivateKey::publicKeyFingerprint() const { return pki::publicKeyFingerprint(key_.get()); }

Fingerprint publicKeyFingerprint(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(len > 0 ? len : 0));
  uint8_t* cursor = der.data();
  i2d_PUBKEY(key, &cursor);
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), digest);
  return Fingerprint::fromHex(hexEncode(digest));
}

}  // namespace rotor::pki
