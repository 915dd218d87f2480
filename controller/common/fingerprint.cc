#include "controller/common/fingerprint.h"

#include <cctype>

#include "controller/common/strings.h"

namespace rotor {

StatusOr<Fingerprint> Fingerprint::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return invalidArgument("fingerprint " + quoteForMessage(text) + " must start with \"sha256:\"");
  }
  std::string hex;
  for (char c : text.substr(kPrefix.size())) {
    if (c == ':') {
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return invalidArgument("fingerprint " + quoteForMessage(text) + " has a non-hex character");
    }
    hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 64) {
    return invalidArgument("fingerprint " + quoteForMessage(text) + " must have 64 hex digits, got " +
                           std::to_string(hex.size()));
  }
  return Fingerprint(std::move(hex));
}

}  // namespace rotor
