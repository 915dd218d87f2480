// AwaitingAdoption: wait until the configured share of clients trusts the staged CA.

#include "reconcilers/gates.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {

StatusOr<Outcome> awaitingAdoption(RotationContext& ctx, CertificateRotation& r) {
  if (!r.status.ca.next) {
    return Outcome::block("NoStagedCA", "No new CA is staged");
  }
  const SystemTime now = ctx.clock.now();
  ASSIGN_OR_RETURN(r.status.adoption, tallyStoredAdoption(ctx.store, r.key(), r.status.ca.next->fingerprint, now,
                                                          r.spec.adoption.staleAfter));
  const bool approved = approvalPending(r);
  const GateDecision gate =
      evaluateAdoptionGate(r.spec.adoption, r.status.adoption, r.status.phaseStartedAt.value_or(now), now, approved);
  if (gate.open && approved) {
    r.status.handled.approve = annotationOf(r, api::kApproveAnnotation);
    return Outcome::moveTo(api::Phase::kSwapping, "Approved", gate.message);
  }
  if (gate.proceededOnTimeout) {
    ctx.events.record(r, EventType::kWarning, "AdoptionTimeoutProceeded", gate.message);
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
