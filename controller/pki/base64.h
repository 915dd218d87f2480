#pragma once

// Standard base64 (RFC 4648 §4, padded), as Kubernetes uses for Secret data and kubeconfig
// *-data fields.

#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor::pki {

std::string base64Encode(std::string_view bytes);
/** kInvalidArgument for anything but padded standard base64 (whitespace and newlines are skipped). */
StatusOr<std::string> base64Decode(std::string_view text);

}  // namespace rotor::pki
