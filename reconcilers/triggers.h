#pragma once

// Which trigger, if any, starts a rotation of a resting (Ready or RolledBack) rotation. Pure:
// decided from the resource alone (spec, annotations, status), so it is table-tested.

#include <optional>
#include <string>
#include <string_view>

#include "controller/api/rotation.h"

namespace rotor::reconcilers {

namespace triggers {
inline constexpr std::string_view kRotateRequested = "RotateRequested";          // rotor.dev/rotate
inline constexpr std::string_view kCaChanged = "CAChanged";                      // spec.ca source edited
inline constexpr std::string_view kCaExpiring = "CAExpiring";                    // ca.rotateBefore
inline constexpr std::string_view kRenewRequested = "RenewRequested";            // rotor.dev/renew
inline constexpr std::string_view kCertificateExpiring = "CertificateExpiring";  // certificate.renewBefore
inline constexpr std::string_view kCaRenewRequested = "CARenewRequested";        // rotor.dev/renew-ca
inline constexpr std::string_view kCaSourceRenewed = "CASourceRenewed";  // spec.ca's Secret re-issued with its key
}  // namespace triggers

/** Whether a trigger asks for a renewal under the same CA key (only the swap; with
 *  kCaRenewRequested the CA certificate is re-issued first, with kCaSourceRenewed taken from
 *  spec.ca's Secret) rather than a new CA. */
bool isRenewal(std::string_view trigger);
/** Whether a renewal re-issues the CA certificate first (kCaRenewRequested, kCaSourceRenewed). */
bool isCaRenewal(std::string_view trigger);

struct TriggerDecision {
  /** Empty when nothing fires. */
  std::string trigger;
  std::string message;
  /** When an expiry trigger will fire if nothing else happens first. */
  std::optional<SystemTime> nextExpiryCheck;
  /** The fingerprint of the CA in spec.ca.secretRef's Secret this trigger takes up, if any. */
  std::string caSource;
};

/**
 * Checks, in order: the rotate annotation, a change of the spec.ca source, the CA's rotateBefore,
 * the renew annotation, each server certificate's renewBefore. `includeExpiry` is false after a
 * rollback: only an explicit request or a spec change starts another attempt (never a loop).
 */
TriggerDecision detectTrigger(const api::CertificateRotation& r, SystemTime now, bool includeExpiry);

/** The annotation's value, empty when absent. */
std::string annotationOf(const api::CertificateRotation& r, std::string_view key);

/** The value of a request annotation (kRotateAnnotation, kRenewAnnotation or kRenewCaAnnotation) that no rotation has
 *  taken up yet (status.handled records the last one taken); empty when there is none. */
std::string pendingRequest(const api::CertificateRotation& r, std::string_view key);

/** "v1:sha256:<hex>" over api::canonicalCaSource: recorded in status.caSourceHash. */
std::string caSourceHash(const api::CaSpec& ca);
/** Whether a stored hash is of the current encoding. Only such a hash can say "spec.ca changed";
 *  one an older rotor wrote (over its wire JSON) is replaced at the next rest instead. */
bool isCurrentCaSourceHash(std::string_view stored);

}  // namespace rotor::reconcilers
