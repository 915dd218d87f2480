#pragma once

// The trust bundle as the phases change it: read as certificates, add what is missing, set it
// exactly.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/pki/authority.h"
#include "controller/pki/certificate.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/** The trust bundle as certificates (empty when there is none yet). */
StatusOr<store::Versioned<std::vector<pki::Certificate>>> readBundleCertificates(store::BundleStore& bundles,
                                                                                 const api::CertificateRotation& r);

/** Adds what is missing from `certificates` to the bundle; writes nothing when all are there. */
Status addToBundle(store::BundleStore& bundles, const api::CertificateRotation& r,
                   std::span<const pki::Certificate> certificates);

/** Makes the bundle exactly the bytes `pem` (a restore gives back what the snapshot held, in its
 *  order); writes nothing when it is. */
Status setBundle(store::BundleStore& bundles, const api::CertificateRotation& r, const std::string& pem);

/** How often copies that are not all written yet are looked at again. */
inline constexpr Duration kBundleCopiesRecheck = std::chrono::seconds(5);

/**
 * Mirrors the bundle into the namespaces spec.trustBundle.namespaceSelector matches
 * (Store::syncBundleCopies), or removes the copies once the selector is gone, and records where
 * that stands in status.bundleCopies; a Warning Event names each namespace newly found holding
 * a foreign object of the bundle's name. True when every copy holds the bundle as it is now
 * (always, with no selector).
 */
StatusOr<bool> syncBundleCopies(RotationContext& ctx, api::CertificateRotation& r);

/** "the bundle is in 3 of 5 namespaces" for status messages. */
std::string bundleCopiesMessage(const api::BundleCopiesStatus& copies);

}  // namespace rotor::reconcilers
