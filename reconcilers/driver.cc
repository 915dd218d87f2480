#include "reconcilers/driver.h"

#include "reconcilers/abandon.h"
#include "reconcilers/ca_source_change.h"
#include "reconcilers/phases/phases.h"
#include "reconcilers/restore.h"
#include "reconcilers/status_refresh.h"
#include "reconcilers/transitions.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers {
namespace {

using api::Phase;

bool isRotationPhase(Phase p) {
  switch (p) {
    case Phase::kReady:
    case Phase::kPaused:
    case Phase::kBlocked:
    case Phase::kRolledBack:
    case Phase::kFailed:
      return false;
    default:
      return true;
  }
}

bool isDegradedPhase(Phase p) {
  return p == Phase::kBlocked || p == Phase::kRollingBack || p == Phase::kRolledBack || p == Phase::kFailed;
}

/** Sets a condition; its lastTransitionTime moves only when its status changes. */
void setCondition(api::RotationStatus& s, std::string_view type, bool value, const std::string& reason,
                  const std::string& message, int64_t generation, SystemTime now) {
  const std::string status = value ? "True" : "False";
  for (api::Condition& c : s.conditions) {
    if (c.type == type) {
      if (c.status != status) {
        c.lastTransitionTime = now;
      }
      c.status = status;
      c.reason = reason;
      c.message = message;
      c.observedGeneration = generation;
      return;
    }
  }
  s.conditions.push_back({std::string(type), status, generation, reason, message, now});
}

void updateConditions(api::CertificateRotation& r, const Outcome& outcome, bool entered, SystemTime now) {
  api::RotationStatus& s = r.status;
  const int64_t g = r.metadata.generation;
  const std::string phase(api::phaseName(s.phase));
  const bool ready = s.phase == Phase::kReady;
  setCondition(s, api::kConditionReady, ready, ready ? "UpToDate" : phase, s.message, g, now);
  setCondition(s, api::kConditionProgressing, isRotationPhase(s.phase), phase, s.message, g, now);
  const api::Condition* degraded = api::findCondition(s, api::kConditionDegraded);
  if (!isDegradedPhase(s.phase) && outcome.refusal) {
    setCondition(s, api::kConditionDegraded, true, outcome.reason, s.message, g, now);  // a refusal that waits
  } else if (!isDegradedPhase(s.phase)) {
    setCondition(s, api::kConditionDegraded, false, "AsExpected", "", g, now);
  } else if (degraded == nullptr || degraded->status != "True" || (entered && s.phase == Phase::kFailed)) {
    // The reason that made it degraded stays (RollingBack -> RolledBack keeps "ProbeFailed").
    setCondition(s, api::kConditionDegraded, true, outcome.reason, s.message, g, now);
  }
  if (entered && s.phase == Phase::kStaging) {
    setCondition(s, api::kConditionAdoptionComplete, false, "Staging", "A new CA is being introduced", g, now);
  } else if (outcome.reason == "Adopted") {
    setCondition(s, api::kConditionAdoptionComplete, true, "Adopted", outcome.message, g, now);
  } else if (entered && s.phase == Phase::kReady) {
    // Bootstrapped, or a staged CA abandoned: there is nothing for clients to adopt.
    const api::Condition* adopted = api::findCondition(s, api::kConditionAdoptionComplete);
    if (adopted == nullptr || adopted->status != "True") {
      setCondition(s, api::kConditionAdoptionComplete, true, "NothingStaged",
                   "No new CA is staged: clients need to trust only the current CA", g, now);
    }
  }
  if (!s.snapshots.empty()) {
    setCondition(s, api::kConditionRollbackAvailable, true, "SnapshotsAvailable",
                 "Latest snapshot: " + s.snapshots.back().name, g, now);
  }
}

}  // namespace

StatusOr<ReconcileResult> Driver::reconcile(const api::ObjectKey& key) {
  StatusOr<ReconcileResult> result = drive(key);
  if (!result.ok() && result.status().code() != Code::kConflict) reportError(key, result.status());
  return result;
}

void Driver::reportError(const api::ObjectKey& key, const Status& error) {
  auto r = ctx_.rotations.getRotation(key);
  if (!r.ok()) return;
  const std::string reason = error.code() == Code::kUnavailable ? "StoreUnavailable" : "ReconcileError";
  const api::Condition* degraded = api::findCondition(r->status, api::kConditionDegraded);
  if (degraded != nullptr && degraded->status == "True" && degraded->reason == reason &&
      degraded->message == error.message()) {
    return;
  }
  setCondition(r->status, api::kConditionDegraded, true, reason, error.message(), r->metadata.generation,
               ctx_.clock.now());
  (void)ctx_.rotations.updateRotationStatus(*r);  // a store that refuses this too leaves the log to tell
}

StatusOr<ReconcileResult> Driver::drive(const api::ObjectKey& key) {
  ReconcileResult result;
  auto got = ctx_.rotations.getRotation(key);
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) {
      result.found = false;
      RETURN_IF_ERROR(ctx_.bundles.rotationGone(key));
      return result;
    }
    return got.status();
  }
  api::CertificateRotation r = std::move(*got);
  for (int steps = 0; steps < kMaxStepsPerReconcile; ++steps) {
    // What the step itself changes (a re-recorded hash, a tally) is compared too.
    const api::RotationStatus before = r.status;
    ASSIGN_OR_RETURN(Outcome outcome, step(r));
    RETURN_IF_ERROR(apply(r, outcome, before, result));
    if (!outcome.next) {
      result.requeueAfter = outcome.requeueAfter;
      break;
    }
  }
  result.phase = r.status.phase;
  return result;
}

StatusOr<std::optional<Outcome>> Driver::sideState(api::CertificateRotation& r) {
  api::RotationStatus& s = r.status;
  const std::string& wanted = r.spec.rollbackTo;
  if (!wanted.empty() && wanted != s.handled.rollbackTo && s.phase != Phase::kPending && s.phase != Phase::kIssuing) {
    s.handled.rollbackTo = wanted;
    auto snapshot = ctx_.snapshots.getSnapshot(r, wanted);
    Status usable = snapshot.ok() ? checkRestorable(ctx_.authorities, r, *snapshot) : snapshot.status();
    if (!usable.ok()) {
      if (usable.code() == Code::kUnavailable) return usable;
      return std::optional<Outcome>(Outcome::refuse(
          Duration::zero(), "RollbackRefused", "Cannot roll back to snapshot \"" + wanted + "\": " + usable.message()));
    }
    // Decided and written before the bundle changes: after a crash that left the CA back in the
    // bundle, the rollback still waits for clients to trust it.
    ASSIGN_OR_RETURN(std::optional<pki::Certificate> pruned,
                     prunedIssuerOf(ctx_.authorities, ctx_.bundles, r, *snapshot));
    s.rollbackSnapshot = wanted;
    s.handled.approve = annotationOf(r, api::kApproveAnnotation);  // approves this rollback's gate only
    s.rollbackRestagedCa = pruned ? pruned->fingerprint().toString() : "";
    std::string message = "Rolling back to snapshot \"" + wanted + "\"";
    if (pruned) {
      message += ": its CA " + s.rollbackRestagedCa +
                 " had left the bundle, so it is staged again and the servers are restored once clients trust it";
    }
    return std::optional<Outcome>(Outcome::moveTo(Phase::kRollingBack, "RollbackRequested", message));
  }
  const std::string abandon = annotationOf(r, api::kAbandonAnnotation);
  if (!abandon.empty() && abandon != s.handled.abandon) {
    s.handled.abandon = abandon;
    if (std::optional<std::string> why = whyNotAbandonable(r)) {
      return std::optional<Outcome>(
          Outcome::refuse(Duration::zero(), "AbandonRefused", "Cannot abandon the rotation: " + *why));
    }
    ASSIGN_OR_RETURN(Outcome abandoned, abandonRotation(ctx_, r, "Abandoned",
                                                        "Abandoned on request: the staged CA left the bundle; every "
                                                        "server keeps the current CA"));
    return std::optional<Outcome>(abandoned);
  }
  if (r.spec.paused && s.phase != Phase::kPaused && s.phase != Phase::kRollingBack) {
    return std::optional<Outcome>(Outcome::moveTo(Phase::kPaused, "Paused", "Paused by spec.paused"));
  }
  if (!r.spec.paused && s.phase == Phase::kPaused) {
    return std::optional<Outcome>(
        Outcome::moveTo(s.resumePhase.value_or(Phase::kReady), "Resumed", "Resumed after a pause"));
  }
  return std::optional<Outcome>();
}

StatusOr<Outcome> Driver::step(api::CertificateRotation& r) {
  ASSIGN_OR_RETURN(std::optional<Outcome> side, sideState(r));
  if (side) {
    return *side;
  }
  RETURN_IF_ERROR(notePendingCaSecret(ctx_, r));  // a rotation under way: what is written waits
  switch (r.status.phase) {
    case Phase::kPending:
      return phases::pending(ctx_, r);
    case Phase::kIssuing:
      return phases::issuing(ctx_, r);
    case Phase::kReady:
    case Phase::kRolledBack:
      return phases::resting(ctx_, r);
    case Phase::kStaging:
      return phases::staging(ctx_, r);
    case Phase::kAwaitingAdoption:
      return phases::awaitingAdoption(ctx_, r);
    case Phase::kSwapping:
      return phases::swapping(ctx_, r);
    case Phase::kVerifying:
      return phases::verifying(ctx_, r);
    case Phase::kDraining:
      return phases::draining(ctx_, r);
    case Phase::kPruning:
      return phases::pruning(ctx_, r);
    case Phase::kRollingBack:
      return phases::rollingBack(ctx_, r);
    case Phase::kBlocked:
      return phases::blocked(ctx_, r);
    case Phase::kPaused:
      return Outcome::wait(Duration::zero(), "Paused", r.status.message);
    case Phase::kFailed:
      return Outcome::wait(Duration::zero(), "Failed", r.status.message);
  }
  return internalError("unknown phase");
}

Status Driver::apply(api::CertificateRotation& r, const Outcome& outcome, const api::RotationStatus& before,
                     ReconcileResult& result) {
  api::RotationStatus& s = r.status;
  const SystemTime now = statusNow(ctx_);
  const Phase from = s.phase;
  bool entered = false;
  if (outcome.next && *outcome.next != from) {
    const Phase to = *outcome.next;
    if (!isLegalTransition(from, to)) {
      return internalError("illegal transition " + std::string(api::phaseName(from)) + " -> " +
                           std::string(api::phaseName(to)) + " (" + outcome.reason + ")");
    }
    if (to == Phase::kPaused || to == Phase::kBlocked) {
      s.resumePhase = from;
    } else if (from == Phase::kPaused || from == Phase::kBlocked) {
      s.resumePhase.reset();
    }
    s.phase = to;
    s.phaseStartedAt = now;
    s.timeline.push_back({to, now, outcome.message});
    if (s.timeline.size() > api::kTimelineLength) {
      s.timeline.erase(s.timeline.begin(), s.timeline.end() - static_cast<std::ptrdiff_t>(api::kTimelineLength));
    }
    result.transitions.push_back({from, to, outcome.reason});
    entered = true;
  }
  if (!outcome.message.empty()) {
    s.message = outcome.message;
  }
  s.observedGeneration = r.metadata.generation;
  updateConditions(r, outcome, entered, now);
  result.failedChecks.insert(result.failedChecks.end(), outcome.failedChecks.begin(), outcome.failedChecks.end());
  if (s == before) {
    return okStatus();
  }
  RETURN_IF_ERROR(ctx_.rotations.updateRotationStatus(r));
  if (entered || outcome.refusal) {
    ctx_.events.record(r, outcome.refusal ? EventType::kWarning : EventType::kNormal, outcome.reason, outcome.message);
  }
  return okStatus();
}

}  // namespace rotor::reconcilers
