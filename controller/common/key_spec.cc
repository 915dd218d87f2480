#include "controller/common/key_spec.h"

namespace rotor {

std::string_view keyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsa:
      return "ECDSA";
    case KeyAlgorithm::kRsa:
      return "RSA";
    case KeyAlgorithm::kEd25519:
      return "Ed25519";
  }
  return "unknown";
}

StatusOr<KeyAlgorithm> parseKeyAlgorithm(std::string_view name) {
  for (KeyAlgorithm a : {KeyAlgorithm::kEcdsa, KeyAlgorithm::kRsa, KeyAlgorithm::kEd25519}) {
    if (name == keyAlgorithmName(a)) {
      return a;
    }
  }
  return invalidArgument("must be one of ECDSA, RSA, Ed25519, got \"" + std::string(name) + "\"");
}

int defaultKeySize(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kEcdsa:
      return 256;
    case KeyAlgorithm::kRsa:
      return 2048;
    case KeyAlgorithm::kEd25519:
      return 0;
  }
  return 0;
}

Status validateKeySpec(const KeySpec& spec) {
  const int s = spec.size;
  switch (spec.algorithm) {
    case KeyAlgorithm::kEcdsa:
      if (s == 256 || s == 384) return okStatus();
      return invalidArgument("ECDSA size must be 256 or 384, got " + std::to_string(s));
    case KeyAlgorithm::kRsa:
      if (s == 2048 || s == 3072 || s == 4096) return okStatus();
      return invalidArgument("RSA size must be 2048, 3072 or 4096, got " + std::to_string(s));
    case KeyAlgorithm::kEd25519:
      if (s == 0) return okStatus();
      return invalidArgument("Ed25519 keys have a fixed size; omit size, got " + std::to_string(s));
  }
  return invalidArgument("unknown key algorithm");
}

}  // namespace rotor
