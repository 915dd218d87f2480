#pragma once

#include <string>
#include <string_view>

#include "controller/common/fingerprint.h"
#include "controller/common/key_spec.h"
#include "controller/common/status.h"
#include "controller/pki/handles.h"

namespace rotor::pki {

/** A private key (and so its public half). Immutable; copies share the key. */
class PrivateKey {
public:
  /** Generates a fresh key. kInvalidArgument for an unsupported spec. */
  static StatusOr<PrivateKey> generate(const KeySpec& spec);
  /** Reads an unencrypted PEM key (PKCS#8, or traditional RSA/EC). */
  static StatusOr<PrivateKey> fromPem(std::string_view pem);

  /** Unencrypted PKCS#8 PEM. Secret material: never log it. */
  std::string toPem() const;
  /** The algorithm and size this key has. */
  KeySpec spec() const;
  /** SHA-256 of the DER SubjectPublicKeyInfo: identifies the key pair without revealing it. */
  Fingerprint publicKeyFingerprint() const;

  PrivateKey(const PrivateKey& other);
  PrivateKey& operator=(const PrivateKey& other);
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  /** Borrowed handle for the other pki units. */
  EVP_PKEY* get() const { return key_.get(); }

private:
  explicit PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {}
  EvpPkeyPtr key_;
};

/** SHA-256 of a public key's DER SubjectPublicKeyInfo. */
Fingerprint publicKeyFingerprint(EVP_PKEY* key);

}  // namespace rotor::pki
