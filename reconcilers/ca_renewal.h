#pragma once

// Renewing the CA certificate under its own key (`rotor rotate NAME --renew-ca`): the root is
// re-issued with the same key and subject, so every client that trusts the old certificate
// accepts what the renewed one signs while the old certificate is valid — no adoption round. The
// servers are then renewed under it like any renewal.

#include <optional>
#include <string>

#include "controller/api/rotation.h"
#include "controller/pki/authority.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/**
 * Why `current` cannot be re-issued under its key for `r`, in words for status and the CLI:
 * an imported CA (renew it where it was made), or a spec that asks for another key. Nullopt when
 * it can.
 */
std::optional<std::string> whyCaNotRenewable(const api::CertificateRotation& r,
                                             const pki::CertificateAuthority& current);

/**
 * Re-issues the current CA once per renewal — recognised by the current certificate still being
 * the one `swapSnapshot` saved in the bundle — and makes sure the bundle holds the renewed
 * certificate beside the old one. Safe to run again after a crash at either write.
 */
Status renewCurrentCaOnce(RotationContext& ctx, api::CertificateRotation& r, const store::Snapshot& swapSnapshot);

}  // namespace rotor::reconcilers
