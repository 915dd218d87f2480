#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "controller/common/status.h"
#include "controller/pki/certificate.h"
#include "controller/pki/key.h"

namespace rotor::pki {

/**
 * A PKCS#12 keystore holding `key`, `leaf` and its `chain` under `alias`, encrypted with
 * `password` (AES-256-CBC, PBKDF2, SHA-256 MAC). `openssl pkcs12` and Java's keytool read it.
 */
StatusOr<std::vector<uint8_t>> exportKeystore(const PrivateKey& key, const Certificate& leaf,
                                              std::span<const Certificate> chain, std::string_view password,
                                              std::string_view alias);

/**
 * A PKCS#12 truststore of certificates only. Each bag carries Oracle's trusted-key-usage attribute
 * (2.16.840.1.113894.746875.1.1), without which Java ignores certificate-only PKCS#12 entries.
 * Aliases are the certificates' common names (made unique), else "ca-<n>".
 */
StatusOr<std::vector<uint8_t>> exportTruststore(std::span<const Certificate> certificates, std::string_view password);

/** The certificates in a PKCS#12 file (key bags are skipped). kInvalidArgument on a bad password. */
StatusOr<std::vector<Certificate>> readPkcs12Certificates(std::span<const uint8_t> der, std::string_view password);

}  // namespace rotor::pki
