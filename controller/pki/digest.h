#pragma once

#include <string>
#include <string_view>

namespace rotor::pki {

/** Lower-case hex SHA-256 of `data`: content versions, ETags, backup integrity checks. */
std::string sha256Hex(std::string_view data);

}  // namespace rotor::pki
