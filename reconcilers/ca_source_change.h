#pragma once

// spec.ca.secretRef with onChange: Rotate — a CA Secret another controller manages (cert-manager
// renewing a CA Certificate). rotor never writes it; it notices what is written there and acts at
// rest: a new key starts a phased CA rotation, the same key a same-key CA renewal. A change during
// a rotation waits for it to end (status.caSecret.pending) and is not lost.

#include "controller/api/rotation.h"
#include "reconcilers/context.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers {

/** How often a resting rotation that follows its CA Secret reads it again. */
inline constexpr Duration kCaSecretRecheck = std::chrono::minutes(1);

/** Whether `r` follows what is written into its CA Secret. */
bool followsCaSecret(const api::CertificateRotation& r);

/**
 * At rest: what the CA Secret holds against the current CA. kCaChanged for a certificate of
 * another key, kCaSourceRenewed for a new certificate of the current key (caSource: its
 * fingerprint); no trigger for the current certificate, the one status.caSecret.taken names, or a
 * Secret that holds nothing usable now (absent, or half written: the next look sees it whole).
 */
StatusOr<TriggerDecision> detectCaSecretChange(RotationContext& ctx, const api::CertificateRotation& r);

/**
 * During a rotation (any other phase: nothing): a CA written into the Secret that this rotation does not bring is
 * recorded in status.caSecret.pending (with an Event, once), to be taken up at rest.
 */
Status notePendingCaSecret(RotationContext& ctx, api::CertificateRotation& r);

}  // namespace rotor::reconcilers
