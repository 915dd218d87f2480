#pragma once

// The adoption gate's arithmetic, shared by every source of agent records (the Store's records
// written by the adoption API, or any other reporter): one tally, one decision.

#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/store/agent_store.h"
#include "reconcilers/context.h"

namespace rotor::reconcilers {

/** How often a gate waiting for agents looks again (agents report on their own schedule). */
inline constexpr Duration kAdoptionPollInterval = std::chrono::seconds(10);

using store::AgentState;
using store::agentStateName;
using store::classifyAgent;
using store::kMaxLaggards;

/** The tally over every agent record the store holds for `key` (AgentStore::tallyAgents). */
StatusOr<api::AdoptionStatus> tallyStoredAdoption(store::AgentStore& agents, const api::ObjectKey& key,
                                                  const std::string& fingerprint, SystemTime now, Duration staleAfter);

struct GateDecision {
  bool open = false;
  /** The timeout passed with the gate still closed: Blocked (onTimeout Block). */
  bool timedOut = false;
  /** Opened by a pending rotor approve. */
  bool approved = false;
  /** Opened only because the timeout passed with onTimeout Proceed: laggards may be orphaned. */
  bool proceededOnTimeout = false;
  /** Why it waits (or why it opened), for status and `rotor status`. */
  std::string message;
  /** When to look again while closed. */
  Duration recheckAfter = Duration::zero();
};

/**
 * Measured mode: open when the new CA has been staged for minStageDuration, at least minAgents
 * agents are active, and adopted*100 >= threshold*active (with no agents and minAgents 0 only
 * time gates). Manual mode: open only when `approved`, the measurement in the message. An
 * approval opens either. When timeout passes closed: timedOut (Block), or open with
 * proceededOnTimeout (Proceed). `caName` is how messages name the CA clients must trust. A
 * non-empty `hold` keeps the measurement closed with that message whatever it counts (consumer
 * pods not countable yet, or a restart rolling out); approval and the timeout still apply.
 */
GateDecision evaluateAdoptionGate(const api::AdoptionSpec& spec, const api::AdoptionStatus& tally, SystemTime stagedAt,
                                  SystemTime now, bool approved = false, std::string_view caName = "the new CA",
                                  std::string_view hold = {});

/** Who the adoption gate counts, as its messages name them: "agents", or with consumer pods counted
 *  (spec.adoption.pods) "clients (agents and consumer pods)". */
std::string countedClients(const api::AdoptionSpec& spec);

/** Whether `r` carries a rotor.dev/approve value no gate has acted upon yet. */
bool approvalPending(const api::CertificateRotation& r);

/**
 * The adoption gate of `r` for the CA `fingerprint`, staged since status.phaseStartedAt, as the
 * phases that wait at it (AwaitingAdoption, a rollback's re-stage) use it: tallies the agents into
 * status.adoption and evaluates with a pending rotor approve. An approval that opened it is
 * recorded as handled; a gate opened because the timeout passed (onTimeout Proceed) records a
 * Warning event AdoptionTimeoutProceeded.
 */
StatusOr<GateDecision> passAdoptionGate(RotationContext& ctx, api::CertificateRotation& r,
                                        const std::string& fingerprint, std::string_view caName = "the new CA");

}  // namespace rotor::reconcilers
