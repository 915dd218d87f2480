#include "controller/pki/base64.h"

#include <openssl/evp.h>

namespace rotor::pki {

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

StatusOr<std::string> base64Decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') compact.push_back(c);
  }
  if (compact.size() % 4 != 0) return invalidArgument("not base64: the length is not a multiple of 4");
  std::string out(compact.size() / 4 * 3 + 1, '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
  if (n < 0) return invalidArgument("not base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t size = static_cast<size_t>(n);
  if (!compact.empty() && compact.back() == '=') --size;
  if (compact.size() > 1 && compact[compact.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

}  // namespace rotor::pki
