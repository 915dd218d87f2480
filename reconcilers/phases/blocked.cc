// Blocked: a gate timed out or a pre-check failed. Never forced: it waits for a change.

#include "reconcilers/consumer_pods.h"
#include "reconcilers/gates.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers::phases {
namespace {

/** Blocked rotations look again this often: a gate may open, a CA file may appear. */
constexpr Duration kBlockedRecheck = std::chrono::minutes(5);

}  // namespace

StatusOr<Outcome> blocked(RotationContext& ctx, CertificateRotation& r) {
  const api::Phase resume = r.status.resumePhase.value_or(api::Phase::kReady);
  const SystemTime now = ctx.clock.now();
  if (r.metadata.generation != r.status.observedGeneration) {
    return Outcome::moveTo(resume, "SpecChanged", "The spec changed; trying again");
  }
  const std::string rotate = annotationOf(r, api::kRotateAnnotation);
  const std::string renew = annotationOf(r, api::kRenewAnnotation);
  const std::string renewCa = annotationOf(r, api::kRenewCaAnnotation);
  if (rotate != r.status.handled.rotate || renew != r.status.handled.renew || renewCa != r.status.handled.renewCa) {
    r.status.handled.rotate = rotate;
    r.status.handled.renew = renew;
    r.status.handled.renewCa = renewCa;
    return Outcome::moveTo(resume, "RetryRequested", "Trying again on request");
  }
  const bool rollingBack = resume == api::Phase::kRollingBack;
  if ((resume == api::Phase::kAwaitingAdoption || rollingBack) && approvalPending(r)) {
    return Outcome::moveTo(resume, "Approved", "Approved after the timeout; going on");
  }
  if (rollingBack && annotationOf(r, api::kRollbackSkipAdoptionAnnotation) == r.status.rollbackSnapshot) {
    return Outcome::moveTo(resume, "AdoptionSkipped", "Restoring at once, as asked");
  }
  // The CA whose adoption timed out: the staged one, or the one a rollback staged again.
  std::string awaited;
  if (resume == api::Phase::kAwaitingAdoption && r.status.ca.next) {
    awaited = r.status.ca.next->fingerprint;
  } else if (rollingBack) {
    awaited = r.status.rollbackRestagedCa;
  }
  if (!awaited.empty()) {
    ASSIGN_OR_RETURN(r.status.adoption,
                     tallyStoredAdoption(ctx.agents, r.key(), awaited, now, r.spec.adoption.staleAfter));
    if (r.spec.adoption.pods) {
      StatusOr<store::PodTally> pods = measureConsumerPods(ctx, r, awaited);
      if (!pods.ok() && pods.status().code() != Code::kUnavailable) return pods.status();
    }
    api::AdoptionSpec noClock = r.spec.adoption;
    noClock.timeout.reset();
    noClock.minStageDuration = Duration::zero();
    if (evaluateAdoptionGate(noClock, api::clientTally(r.status), now, now).open) {
      return Outcome::moveTo(resume, "Adopted", "Adoption reached the threshold after the timeout");
    }
  }
  const SystemTime retryAt = r.status.phaseStartedAt.value_or(now) + kBlockedRecheck;
  if (resume == api::Phase::kIssuing || resume == api::Phase::kStaging) {
    // The CA source lives outside rotor (files, a Secret): look at it again now and then.
    if (now >= retryAt) {
      return Outcome::moveTo(resume, "Retrying", "Looking at the CA source again");
    }
    return Outcome::wait(std::chrono::ceil<Duration>(retryAt - now), "Blocked", r.status.message);
  }
  return Outcome::wait(kBlockedRecheck, "Blocked", r.status.message);
}

}  // namespace rotor::reconcilers::phases
