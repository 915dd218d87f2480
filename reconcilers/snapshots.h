#pragma once

// Snapshots under deterministic names, so that a retried step meets what it wrote.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/pki/authority.h"
#include "controller/pki/certificate.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/** "<name>-r<revision>-<purpose>" ("<name>-r<revision>-retry<attempt>-<purpose>" after a
 *  rollback): deterministic, so a retried step finds its own snapshot. */
std::string snapshotName(const api::CertificateRotation& r, std::string_view purpose);

/**
 * The snapshot `snapshotName(r, purpose)`: taken now (every server's material and the bundle)
 * unless it exists already, and recorded in status.snapshots either way.
 */
StatusOr<store::Snapshot> ensureSnapshot(RotationContext& ctx, api::CertificateRotation& r, std::string_view purpose,
                                         const std::string& reason);

}  // namespace rotor::reconcilers
