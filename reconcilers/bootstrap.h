#pragma once

#include "controller/api/rotation.h"
#include "controller/common/clock.h"
#include "controller/common/status.h"
#include "controller/store/store.h"

namespace rotor::reconcilers {

/**
 * Brings a new rotation to Ready at revision 1: a CA (generated from spec.ca.generate), a
 * server certificate for every server that has none, and a trust bundle that holds the CA.
 * Idempotent and resumable: every step first reads what is stored and only adds what is
 * missing, so a run after a crash at any write finishes the job without issuing twice.
 * Material that already exists (an operator's own certificate) is kept, never overwritten.
 *
 * On success `rotation.status` describes the result and has been written. kFailedPrecondition
 * when the CA source cannot be bootstrapped yet (spec.ca.files / secretRef import arrives with
 * the engine); kConflict when someone wrote in between (re-read and run again).
 */
Status bootstrapRotation(store::Store& store, const Clock& clock, api::CertificateRotation& rotation);

}  // namespace rotor::reconcilers
