#include "controller/pki/digest.h"

#include <openssl/sha.h>

#include <cstdint>
#include <span>

#include "controller/common/strings.h"

namespace rotor::pki {

std::string sha256Hex(std::string_view data) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), digest);
  return hexEncode(digest);
}

}  // namespace rotor::pki
