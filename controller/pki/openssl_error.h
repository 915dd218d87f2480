#pragma once

#include <string>
#include <string_view>

#include "controller/common/status.h"

namespace rotor::pki {

/**
 * Drains OpenSSL's thread-local error queue into one line ("reason; reason"). Call after every
 * failed OpenSSL call so that a stale error never leaks into the next operation's message.
 */
std::string drainOpensslErrors();

/** A Status with `code` whose message is "what: <drained OpenSSL errors>". */
Status opensslError(Code code, std::string_view what);

}  // namespace rotor::pki
