// AwaitingAdoption: wait until the configured share of clients trusts the staged CA.

#include "reconcilers/gates.h"
#include "reconcilers/phases/phases.h"

namespace rotor::reconcilers::phases {

StatusOr<Outcome> awaitingAdoption(RotationContext& ctx, CertificateRotation& r) {
  if (!r.status.ca.next) {
    return Outcome::block("NoStagedCA", "No new CA is staged");
  }
  ASSIGN_OR_RETURN(const GateDecision gate, passAdoptionGate(ctx, r, r.status.ca.next->fingerprint));
  if (gate.approved) {
    return Outcome::moveTo(api::Phase::kSwapping, "Approved", gate.message);
  }
  if (gate.proceededOnTimeout) {
    return Outcome::moveTo(api::Phase::kSwapping, "AdoptionTimeoutProceeded", gate.message);
  }
  if (gate.open) {
    return Outcome::moveTo(api::Phase::kSwapping, "Adopted", gate.message);
  }
  if (gate.timedOut) {
    return Outcome::block("AdoptionTimeout", "adoption.timeout passed: " + gate.message);
  }
  return Outcome::wait(gate.recheckAfter, "AwaitingAdoption", gate.message);
}

}  // namespace rotor::reconcilers::phases
