#pragma once

// Abandoning a rotation that has not swapped anything, on request (rotor abandon NAME, or rotor
// rollback before any snapshot) or because spec.ca names the current CA again. No server has
// presented a certificate of the staged CA, so no client depends on it: the staged CA leaves the
// bundle (after a snapshot) and the CA slots, and the rotation rests in Ready again.

#include <optional>
#include <string>

#include "controller/api/rotation.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/** Why `r` cannot be abandoned, or nullopt when it can: it is staging or awaiting adoption
 *  (also while blocked or paused there) and no server has swapped. */
std::optional<std::string> whyNotAbandonable(const api::CertificateRotation& r);

/** Takes the staged CA out of the bundle and the CA slots and returns to Ready with `reason`.
 *  The served material is untouched; spec.ca as it is now counts as acted upon. Idempotent. */
StatusOr<Outcome> abandonRotation(RotationContext& ctx, api::CertificateRotation& r, std::string reason,
                                  std::string message);

}  // namespace rotor::reconcilers
