#pragma once

// The adoption gate's arithmetic, shared by every source of agent records (the Store's records
// written by the adoption API, or any other reporter): one tally, one decision.

#include <string>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/store/store.h"

namespace rotor::reconcilers {

/** How many laggards status lists. */
inline constexpr size_t kMaxLaggards = 20;
/** How often a gate waiting for agents looks again (agents report on their own schedule). */
inline constexpr Duration kAdoptionPollInterval = std::chrono::seconds(10);

/**
 * Counts agents: active (seen within staleAfter), adopted (active and trusting `fingerprint`),
 * stale (the rest). Laggards are the active agents that do not trust it yet, by id, at most
 * kMaxLaggards. ratio is adopted/active (1 when no agent is active).
 */
api::AdoptionStatus tallyAdoption(const std::vector<store::AgentRecord>& agents, const std::string& fingerprint,
                                  SystemTime now, Duration staleAfter);

struct GateDecision {
  bool open = false;
  /** The timeout passed with the gate still closed: Blocked, never forced. */
  bool timedOut = false;
  /** Why it waits (or why it opened), for status and `rotor status`. */
  std::string message;
  /** When to look again while closed. */
  Duration recheckAfter = Duration::zero();
};

/**
 * Open when the new CA has been staged for minStageDuration, at least minAgents agents are
 * active, and adopted*100 >= threshold*active. With no agents and minAgents 0 only time gates.
 */
GateDecision evaluateAdoptionGate(const api::AdoptionSpec& spec, const api::AdoptionStatus& tally, SystemTime stagedAt,
                                  SystemTime now);

}  // namespace rotor::reconcilers
