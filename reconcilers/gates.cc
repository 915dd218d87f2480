#include "reconcilers/gates.h"

#include <algorithm>

#include "reconcilers/bundle.h"
#include "reconcilers/consumer_pods.h"
#include "reconcilers/triggers.h"

namespace rotor::reconcilers {

StatusOr<api::AdoptionStatus> tallyStoredAdoption(store::AgentStore& agents, const api::ObjectKey& key,
                                                  const std::string& fingerprint, SystemTime now, Duration staleAfter) {
  return agents.tallyAgents(key, {fingerprint, now, staleAfter});
}

namespace {

/** The measured gate alone: threshold, minAgents, minStageDuration; timedOut when closed past
 *  the timeout, recheckAfter never past it. */
GateDecision measuredGate(const api::AdoptionSpec& spec, const api::AdoptionStatus& tally, SystemTime stagedAt,
                          SystemTime now, std::string_view caName, std::string_view hold) {
  GateDecision d;
  const std::string clients = countedClients(spec);
  const Duration staged = std::chrono::duration_cast<Duration>(now - stagedAt);
  const bool timedOut = spec.timeout && staged >= *spec.timeout;
  const auto closed = [&](std::string why, Duration recheck) {
    d.message = std::move(why);
    d.timedOut = timedOut;
    if (spec.timeout && !timedOut) {
      recheck = std::min(recheck, *spec.timeout - staged);
    }
    d.recheckAfter = recheck;
    return d;
  };
  if (!hold.empty()) return closed(std::string(hold), kAdoptionPollInterval);
  if (tally.active < spec.minAgents) {
    return closed("Waiting for " + clients + ": " + std::to_string(tally.active) + " active, at least " +
                      std::to_string(spec.minAgents) + " required",
                  kAdoptionPollInterval);
  }
  if (tally.adopted * 100 < static_cast<int64_t>(spec.threshold) * tally.active) {
    return closed("Waiting for adoption: " + std::to_string(tally.adopted) + "/" + std::to_string(tally.active) +
                      " active " + clients + " trust " + std::string(caName) + ", " + std::to_string(spec.threshold) +
                      "% required",
                  kAdoptionPollInterval);
  }
  if (staged < spec.minStageDuration) {
    // A deadline, not a countdown: the message stays the same while only time passes, so that
    // waiting writes no status (each write would wake every watcher).
    return closed("Waiting for adoption.minStageDuration (" + formatDuration(spec.minStageDuration) + ") until " +
                      formatRfc3339(truncateToSeconds(stagedAt + spec.minStageDuration)),
                  spec.minStageDuration - staged);
  }
  d.open = true;
  d.timedOut = timedOut;
  d.message = tally.active == 0 ? "No " + clients + " report; " + std::string(caName) + " was staged for " +
                                      formatDuration(spec.minStageDuration)
                                : std::to_string(tally.adopted) + "/" + std::to_string(tally.active) + " active " +
                                      clients + " trust " + std::string(caName);
  return d;
}

}  // namespace

GateDecision evaluateAdoptionGate(const api::AdoptionSpec& spec, const api::AdoptionStatus& tally, SystemTime stagedAt,
                                  SystemTime now, bool approved, std::string_view caName, std::string_view hold) {
  GateDecision d = measuredGate(spec, tally, stagedAt, now, caName, hold);
  if (approved) {
    return {true, false, true, false, "Approved (rotor.dev/approve); measured: " + d.message, Duration::zero()};
  }
  if (spec.mode == api::AdoptionMode::kManual) {
    // The measurement never opens a manual gate; it is polled for status while a person decides.
    d.message = "Waiting for approval (rotor approve); measured: " + d.message;
    d.recheckAfter = d.open || d.recheckAfter > kAdoptionPollInterval ? kAdoptionPollInterval : d.recheckAfter;
    d.open = false;
  }
  if (!d.open && d.timedOut && spec.onTimeout == api::TimeoutAction::kProceed) {
    d.open = true;
    d.proceededOnTimeout = true;
    d.message = "adoption.timeout (" + formatDuration(*spec.timeout) +
                ") passed; proceeding as adoption.onTimeout says: " + d.message;
  }
  if (d.open) {
    d.timedOut = false;
  }
  return d;
}

std::string countedClients(const api::AdoptionSpec& spec) {
  // With consumer pods counted, every count is of clients: agents and running consumer pods.
  return spec.pods ? "clients (agents and consumer pods)" : "agents";
}

bool approvalPending(const api::CertificateRotation& r) {
  const std::string approve = annotationOf(r, api::kApproveAnnotation);
  return !approve.empty() && approve != r.status.handled.approve;
}

StatusOr<GateDecision> passAdoptionGate(RotationContext& ctx, api::CertificateRotation& r,
                                        const std::string& fingerprint, std::string_view caName) {
  // Clients can adopt only a bundle they can read: every copy first.
  ASSIGN_OR_RETURN(const bool copied, syncBundleCopies(ctx, r));
  if (!copied) {
    GateDecision waiting;
    waiting.message = r.status.bundleCopies
                          ? "Waiting for the bundle's copies: " + bundleCopiesMessage(*r.status.bundleCopies)
                          : "Waiting for the trust bundle to be written";
    waiting.recheckAfter = kBundleCopiesRecheck;
    return waiting;
  }
  const SystemTime now = ctx.clock.now();
  ASSIGN_OR_RETURN(r.status.adoption,
                   tallyStoredAdoption(ctx.agents, r.key(), fingerprint, now, r.spec.adoption.staleAfter));
  std::string hold;  // why the measurement cannot open the gate yet, whatever it counts
  if (r.spec.adoption.pods) {
    StatusOr<store::PodTally> pods = measureConsumerPods(ctx, r, fingerprint);
    if (!pods.ok() && pods.status().code() != Code::kUnavailable) return pods.status();
    hold = pods.ok() ? consumerPodsHold(r.status) : "Waiting to count the consumer pods: " + pods.status().message();
  } else {
    r.status.pods.reset();
  }
  GateDecision gate =
      evaluateAdoptionGate(r.spec.adoption, api::clientTally(r.status), r.status.phaseStartedAt.value_or(now), now,
                           approvalPending(r), caName, hold);
  if (const auto restartsAt = deferredRestartsAt(r, now); restartsAt && !gate.open) {
    gate.recheckAfter = std::min(gate.recheckAfter, std::chrono::ceil<Duration>(*restartsAt - now));
  }
  if (gate.approved) {
    r.status.handled.approve = annotationOf(r, api::kApproveAnnotation);
  }
  if (gate.proceededOnTimeout) {
    ctx.events.record(r, EventType::kWarning, "AdoptionTimeoutProceeded", gate.message);
  }
  return gate;
}

}  // namespace rotor::reconcilers
