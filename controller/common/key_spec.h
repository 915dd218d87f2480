#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor {

enum class KeyAlgorithm { kEcdsa, kRsa, kEd25519 };

/** A private key's algorithm and size: ECDSA 256|384, RSA 2048|3072|4096, Ed25519 (size 0). */
struct KeySpec {
  KeyAlgorithm algorithm = KeyAlgorithm::kEcdsa;
  int size = 256;

  friend bool operator==(const KeySpec&, const KeySpec&) = default;
};

/** "ECDSA", "RSA", "Ed25519": the names used in manifests. */
std::string_view keyAlgorithmName(KeyAlgorithm algorithm);
/** Parses a manifest name; kInvalidArgument lists the allowed names. */
StatusOr<KeyAlgorithm> parseKeyAlgorithm(std::string_view name);
/** The size used when a manifest names only the algorithm. */
int defaultKeySize(KeyAlgorithm algorithm);
/** kInvalidArgument when the size is not one rotor generates for this algorithm. */
Status validateKeySpec(const KeySpec& spec);

}  // namespace rotor
