#pragma once

// Helpers the phase reconcilers share: reading CA and served material, keeping the bundle, and
// taking snapshots under deterministic names so that a retried step meets what it wrote.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/pki/authority.h"
#include "controller/pki/certificate.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

api::CertificateRef refOf(const pki::Certificate& certificate);

/** The CA in a slot, or nullopt when the slot is empty. */
StatusOr<std::optional<pki::CertificateAuthority>> authorityIn(const std::optional<store::AuthorityMaterial>& slot);
/** The CA in a slot that must be filled; kFailedPrecondition naming `role` otherwise. */
StatusOr<pki::CertificateAuthority> requireAuthority(const std::optional<store::AuthorityMaterial>& slot,
                                                     std::string_view role);

/** A CA from spec.ca's source: generated from spec.ca.generate, or the operator's own CA read
 *  through Store::readCustomAuthority. Nothing is stored. */
StatusOr<pki::CertificateAuthority> authorityFromSource(RotationContext& ctx, const api::CertificateRotation& r);

/** The served chain, leaf first; kFailedPrecondition when it holds no certificate. */
StatusOr<std::vector<pki::Certificate>> chainOf(const store::ServedMaterial& material);

/** The trust bundle as certificates (empty when there is none yet). */
StatusOr<store::Versioned<std::vector<pki::Certificate>>> readBundleCertificates(RotationContext& ctx,
                                                                                 const api::CertificateRotation& r);
/** Adds what is missing from `certificates` to the bundle; writes nothing when all are there. */
Status addToBundle(RotationContext& ctx, const api::CertificateRotation& r,
                   std::span<const pki::Certificate> certificates);
/** Makes the bundle exactly `pem` (compared as certificate sets); writes nothing when it is. */
Status setBundle(RotationContext& ctx, const api::CertificateRotation& r, const std::string& pem);

/** Re-reads every server's material into status.servers (fingerprint, notAfter, issuer),
 *  keeping the swap progress fields. `authorities` names the issuers. */
Status refreshServerStatus(RotationContext& ctx, api::CertificateRotation& r, const store::Authorities& authorities);
/** status.ca from the stored CA slots. */
Status refreshCaStatus(api::RotationStatus& status, const store::Authorities& authorities);

/** The status entry of `server`, or null. */
const api::ServerStatus* findServerStatus(const api::RotationStatus& status, std::string_view server);
/** The status entry of `server`, created when missing. */
api::ServerStatus& serverStatusOf(api::RotationStatus& status, const std::string& server);

/** "<name>-r<revision>-<purpose>" ("<name>-r<revision>-retry<attempt>-<purpose>" after a
 *  rollback): deterministic, so a retried step finds its own snapshot. */
std::string snapshotName(const api::CertificateRotation& r, std::string_view purpose);
/**
 * The snapshot `snapshotName(r, purpose)`: taken now (every server's material and the bundle)
 * unless it exists already, and recorded in status.snapshots either way.
 */
StatusOr<store::Snapshot> ensureSnapshot(RotationContext& ctx, api::CertificateRotation& r, std::string_view purpose,
                                         const std::string& reason);

/** Now, at status precision. */
inline SystemTime statusNow(const RotationContext& ctx) { return truncateToSeconds(ctx.clock.now()); }

}  // namespace rotor::reconcilers
