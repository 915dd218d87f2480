#pragma once

// What a restore of a snapshot needs, checked before its first write: a rollback that cannot
// finish must not start, because every write it made before failing would be left behind.

#include <optional>

#include "controller/pki/certificate.h"
#include "controller/store/authority_store.h"
#include "controller/store/bundle_store.h"
#include "controller/store/snapshot_store.h"

namespace rotor::reconcilers {

/** The stored CA slot that issued `leaf`, or null when this rotation holds no such CA. */
const std::optional<store::AuthorityMaterial>* issuerSlot(const store::Authorities& authorities,
                                                          const pki::Certificate& leaf);

/**
 * Ok when `snapshot` can be restored for `r`: every saved server certificate of a server the
 * rotation still has and the saved bundle parse, and the CA that issued the certificates is one
 * the rotation still holds. kFailedPrecondition saying what stands in the way otherwise.
 */
Status checkRestorable(store::AuthorityStore& authorities, const api::CertificateRotation& r,
                       const store::Snapshot& snapshot);

/** The CA certificate that issued the snapshot's server certificates; nullopt when the snapshot
 *  holds no server of the rotation. kFailedPrecondition when the rotation no longer holds it. */
StatusOr<std::optional<pki::Certificate>> snapshotIssuer(store::AuthorityStore& authorities,
                                                         const api::CertificateRotation& r,
                                                         const store::Snapshot& snapshot);

/**
 * The CA certificate that issued the snapshot's server certificates, when the rotation's trust
 * bundle does not hold it now (it was pruned since the snapshot): clients may have dropped it, so
 * restoring those certificates at once would orphan them. Nullopt when the bundle trusts it, or
 * the snapshot holds no server of the rotation. Call after checkRestorable().
 */
StatusOr<std::optional<pki::Certificate>> prunedIssuerOf(store::AuthorityStore& authorities,
                                                         store::BundleStore& bundles, const api::CertificateRotation& r,
                                                         const store::Snapshot& snapshot);

}  // namespace rotor::reconcilers
