#pragma once

// One reconciler per phase. Each reads what it needs from the Store, does the phase's work
// idempotently (a run after a crash at any write finds what the earlier run wrote and goes on),
// updates `rotation.status` in memory and says where to go next. The driver writes status and
// enforces the transition table; no reconciler calls another.

#include "reconcilers/context.h"

namespace rotor::reconcilers::phases {

using api::CertificateRotation;

/** What a Ready rotation with nothing to do says. Issuing says it too on entering Ready, so that a
 *  bootstrap's status is written once there, not again by the resting step that runs right after. */
inline constexpr std::string_view kUpToDateMessage = "Every server presents a current certificate";

/** Pending: accept the resource and start issuing. */
StatusOr<Outcome> pending(RotationContext& ctx, CertificateRotation& r);
/** Issuing: CA (generated or imported), bundle, then every server's certificate. -> Ready. */
StatusOr<Outcome> issuing(RotationContext& ctx, CertificateRotation& r);
/** Ready and RolledBack: wait for a trigger. -> Staging (new CA) or Swapping (renewal). */
StatusOr<Outcome> resting(RotationContext& ctx, CertificateRotation& r);
/** Staging: the next CA, added to the bundle beside the current one. -> AwaitingAdoption. */
StatusOr<Outcome> staging(RotationContext& ctx, CertificateRotation& r);
/** AwaitingAdoption: the adoption gate. -> Swapping, or Blocked on timeout. */
StatusOr<Outcome> awaitingAdoption(RotationContext& ctx, CertificateRotation& r);
/** How a swapped server is verified, for messages and plans: "verifying health probes for 1m", or why there is no
 *  bake (a server without healthCheck is verified by its reload or its workload's rollout alone). */
std::string bakePlan(const CertificateRotation& r, const api::ServerSpec& server);
/** Swapping: window, snapshot, pre-checks, write and reload of the next server. -> Verifying. */
StatusOr<Outcome> swapping(RotationContext& ctx, CertificateRotation& r);
/** Verifying: probe the swapped server for bakeTime. -> Swapping (next server), Draining, Ready,
 *  or RollingBack after failureThreshold failures. */
StatusOr<Outcome> verifying(RotationContext& ctx, CertificateRotation& r);
/** Draining: wait prune.after (and the old CA's expiry with waitForExpiry). -> Pruning. */
StatusOr<Outcome> draining(RotationContext& ctx, CertificateRotation& r);
/** Pruning: snapshot, then the bundle holds the current CA only. -> Ready (revision + 1). */
StatusOr<Outcome> pruning(RotationContext& ctx, CertificateRotation& r);
/** RollingBack: restore status.rollbackSnapshot (bundle widened first; a pruned CA staged again
 *  and awaited through the adoption gate). -> RolledBack, Failed, or Blocked on adoption.timeout. */
StatusOr<Outcome> rollingBack(RotationContext& ctx, CertificateRotation& r);
/** Blocked: back to status.resumePhase once the spec changes, a request arrives, or the gate
 *  that blocked opens after all. */
StatusOr<Outcome> blocked(RotationContext& ctx, CertificateRotation& r);

}  // namespace rotor::reconcilers::phases
