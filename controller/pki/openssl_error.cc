#include "controller/pki/openssl_error.h"

#include <openssl/err.h>

namespace rotor::pki {

std::string drainOpensslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof(buffer));
    if (!out.empty()) {
      out += "; ";
    }
    // Keep only the human part after the last ':' group ("...:reason").
    std::string_view text(buffer);
    size_t lastColon = text.rfind(':');
    out += std::string(lastColon == std::string_view::npos ? text : text.substr(lastColon + 1));
  }
  return out;
}

Status opensslError(Code code, std::string_view what) {
  std::string detail = drainOpensslErrors();
  if (detail.empty()) {
    return Status(code, std::string(what));
  }
  return Status(code, std::string(what) + ": " + detail);
}

}  // namespace rotor::pki
