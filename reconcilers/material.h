#pragma once

// Reading CA and served material: the CA in a slot or from spec.ca's source, a served chain.

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

/**
 * A CA from spec.ca's source: generated from spec.ca.generate, or the operator's own CA read
 * through Store::readCustomAuthority and checked (pki::checkImportedCa). Nothing is stored. An
 * error names the field and the file or Secret key; a refused import is kFailedPrecondition and
 * adds the names of the failed checks to `failedChecks`.
 */
StatusOr<pki::CertificateAuthority> authorityFromSource(RotationContext& ctx, const api::CertificateRotation& r,
                                                        std::vector<std::string>* failedChecks = nullptr);

/** Whether authorityFromSource failed for the operator to fix (a CA missing, unreadable or
 *  refused), rather than for a moment (the store unavailable, a conflict). */
bool isCaSourceProblem(const Status& status);

/** The served chain, leaf first; kFailedPrecondition when it holds no certificate. */
StatusOr<std::vector<pki::Certificate>> chainOf(const store::ServedMaterial& material);

}  // namespace rotor::reconcilers
