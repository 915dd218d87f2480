#pragma once

// status.servers and status.ca from what is stored, and the time at status precision.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/pki/authority.h"
#include "controller/pki/certificate.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/** Re-reads every server's material into status.servers (fingerprint, notAfter, issuer),
 *  keeping the swap progress fields. `authorities` names the issuers. */
Status refreshServerStatus(store::ServerStore& servers, api::CertificateRotation& r,
                           const store::Authorities& authorities);

/** status.ca from the stored CA slots. */
Status refreshCaStatus(api::RotationStatus& status, const store::Authorities& authorities);

/** The status entry of `server`, or null. */
const api::ServerStatus* findServerStatus(const api::RotationStatus& status, std::string_view server);

/** The status entry of `server`, created when missing. */
api::ServerStatus& serverStatusOf(api::RotationStatus& status, const std::string& server);

/** Now, at status precision. */
inline SystemTime statusNow(const RotationContext& ctx) { return truncateToSeconds(ctx.clock.now()); }

}  // namespace rotor::reconcilers
