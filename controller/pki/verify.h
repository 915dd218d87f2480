#pragma once

#include <span>
#include <string>

#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/pki/certificate.h"

namespace rotor::pki {

enum class Purpose {
  kServer,  // the leaf must carry EKU serverAuth (when it has an EKU at all)
  kAny,     // chain building and signatures only (e.g. a cross-signed CA)
};

/**
 * Verifies that `leaf` chains through `intermediates` to one of `roots`, with every certificate
 * valid at `at`. kFailedPrecondition carries OpenSSL's reason, the depth and the subject
 * ("certificate has expired (depth 0, CN=proxy)"); kInvalidArgument when `roots` is empty.
 */
Status verifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> roots, SystemTime at, Purpose purpose = Purpose::kServer);

}  // namespace rotor::pki
