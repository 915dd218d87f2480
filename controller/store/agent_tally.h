#pragma once

// How agents stand towards a CA, counted: one definition for every Store, whether it streams
// records (visitAgents) or keeps them in a compact form of its own (the adoption registry).

#include <string>
#include <string_view>
#include <vector>

#include "controller/api/rotation.h"
#include "controller/common/clock.h"

namespace rotor::store {

struct AgentRecord;

/** How many laggards a tally lists. */
inline constexpr size_t kMaxLaggards = 20;

/** Where an agent stands towards a CA: stale (not seen within staleAfter), adopted (active and
 *  trusting it) or pending (active, not trusting it yet). */
enum class AgentState { kAdopted, kPending, kStale };
AgentState classifyAgent(const AgentRecord& agent, const std::string& fingerprint, SystemTime now, Duration staleAfter);
std::string_view agentStateName(AgentState state);

/** What a tally counts agents towards: the CA's fingerprint, at `now`, with staleAfter. */
struct TallyQuery {
  std::string fingerprint;
  SystemTime now;
  Duration staleAfter = Duration::zero();
  /** Agents last seen before this are stale. */
  SystemTime staleBefore() const { return now - staleAfter; }
};

/**
 * Counts agents one at a time, so that a million records are tallied without holding them:
 * active, adopted, stale; laggards are the pending agents with the smallest ids, at most
 * kMaxLaggards. ratio is adopted/active (1 when no agent is active).
 */
class AdoptionCounter {
public:
  explicit AdoptionCounter(TallyQuery query) : query_(std::move(query)) {}
  void add(const AgentRecord& agent);
  /** An agent already classified (by a store that knows its records' trust sets). */
  void add(AgentState state, std::string_view id);
  api::AdoptionStatus result() const;

private:
  TallyQuery query_;
  api::AdoptionStatus tally_;
  std::vector<std::string> laggards_;  // a max-heap of the smallest ids seen
};

}  // namespace rotor::store
